// Nothing secret in archives (issue 17): a discovered cluster (vc-config Secret with the chart label, so its archive
// gets a release entry) whose vcluster.yaml has inline credentials, snapshotted with them: the stored archive's
// release entry keeps the values vCluster needs, without a byte of any credential (the secret scan at the end of the
// run checks every archive again).
import { strict as assert } from 'node:assert';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import * as k8s from '@kubernetes/client-node';
import { readArchiveEntries } from '../../lib/archive/writer';
import { parsePolicy } from '../../lib/policy';
import { createStore } from '../../lib/storage';
import { snapshotWorkflow } from '../../workflows';
import { SecretScanner } from '../faults/support/secret-scan';
import { testEnv } from '../harness/env';
import { uniqueName } from '../harness/fixtures';
import { adminKube, startTestWorker, type TestWorker } from '../harness/temporal';

const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('security: release entries carry no credentials', function () {
  this.timeout(120_000);
  let worker: TestWorker;
  before(async () => {
    worker = await startTestWorker();
  });
  after(async () => worker?.stop());

  it('an inline-credential S3 policy of a chart-labelled cluster: release entry first, values kept, credentials gone', async () => {
    const { endpoint, accessKeyId, secretAccessKey } = testEnv().minio;
    const bucket = uniqueName('release');
    const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    s3.destroy();
    const namespace = uniqueName('tenant');
    const name = uniqueName('vc');
    const yamlText = [
      'sync:',
      '  toHost:',
      '    ingresses:',
      '      enabled: true',
      'snapshots:',
      '  auto:',
      '    schedule: "@daily"',
      '    storage:',
      '      type: s3',
      '      s3:',
      `        url: s3://${bucket}/snaps?url=${b64(endpoint)}&force-path-style=true&region=us-east-1&access-key-id=${b64(accessKeyId)}&secret-access-key=${b64(secretAccessKey)}`,
      '    etcd:',
      `      endpoints: [${testEnv().etcd.endpoint}]`,
      '',
    ].join('\n');
    const core = adminKube().makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    const chart = 'vcluster-0.36.1';
    await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: `vc-config-${name}`, labels: { app: 'vcluster', chart, release: name } }, stringData: { 'config.yaml': yamlText } },
    });
    const parsed = parsePolicy(yamlText, { name, namespace }, { chartLabel: chart });
    assert.ok(parsed.ok && parsed.policy?.release, JSON.stringify(parsed));
    const view = await worker.client.workflow.execute(snapshotWorkflow, { taskQueue: worker.taskQueue, workflowId: uniqueName('release'), args: [{ policy: parsed.policy }] });
    assert.equal(view.status, 'Completed', view.error);

    const store = createStore(parsed.policy.storage, { accessKeyId, secretAccessKey });
    const entries: { name: string; body: Buffer }[] = [];
    for await (const entry of readArchiveEntries(await store.getArchive(view.snapshotName!))) {
      entries.push({ name: entry.name, body: entry.body });
      if (entries.length === 2) break;
    }
    assert.equal(entries[0].name, '/vcluster/snapshot/release');
    const release = JSON.parse(entries[0].body.toString('utf8')) as { chartName: string; chartVersion: string; values: string };
    assert.deepEqual([release.chartName, release.chartVersion], ['vcluster', '0.36.1']);
    const values = Buffer.from(release.values, 'base64').toString('utf8');
    assert.match(values, /ingresses:\n\s+enabled: true/, 'the values vCluster restores from are kept');
    assert.match(values, new RegExp(`url: s3://${bucket}/snaps\\?url=`), 'the storage URL stays, without its credential options');
    for (const secret of [secretAccessKey, b64(secretAccessKey), accessKeyId, b64(accessKeyId)]) assert.ok(!values.includes(secret), 'a credential in the release values');
    const scanner = new SecretScanner([{ value: secretAccessKey, source: 'inline S3 secret key' }]);
    scanner.scan(entries[0].body, 'release entry');
    assert.deepEqual(scanner.leaks, []);
  });
});
