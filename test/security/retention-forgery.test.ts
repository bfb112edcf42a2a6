// Retention deletes only what the product took (issue 17): a metadata record the tenant wrote into its own storage,
// naming someone else's cloud snapshot handle, is pruned as a file but its handle is never acted on. The proof is the
// kube-apiserver's audit log: no VolumeSnapshotContent is ever created for that handle (creating one with
// deletionPolicy Delete is how a backend snapshot gets deleted).
import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import type { SnapshotRecord } from '../../contracts/definitions';
import { signRecord } from '../../lib/record-signature';
import { snapshotWorkflow } from '../../workflows';
import { pruneObjectName } from '../../activities/retention';
import { testEnv } from '../harness/env';
import { filePolicy, uniqueName } from '../harness/fixtures';
import { adminKube, startTestWorker, type TestWorker } from '../harness/temporal';

interface AuditEvent {
  verb: string;
  objectRef?: { resource?: string; name?: string };
}

function contentCreations(name: string): AuditEvent[] {
  return readFileSync(testEnv().kube.auditLogFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AuditEvent)
    .filter((e) => e.verb === 'create' && e.objectRef?.resource === 'volumesnapshotcontents' && e.objectRef.name === name);
}

describe('security: retention acts only on volume handles the worker signed', function () {
  this.timeout(120_000);
  let worker: TestWorker;
  before(async () => {
    worker = await startTestWorker();
  });
  after(async () => worker?.stop());

  it('forged and re-signed records are pruned as files, their handles left alone and reported; no content is created', async () => {
    const namespace = uniqueName('tenant');
    await adminKube().makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
    const policy = filePolicy({ cluster: { name: uniqueName('vc'), namespace }, retention: { periodDays: 30, maxSnapshots: 1 } });
    const dir = (policy.storage as { path: string }).path;
    const victim = { driver: 'pd.csi.storage.gke.io', handle: `projects/victim/global/snapshots/${uniqueName('precious')}` };
    const forged = (snapshotName: string): SnapshotRecord => ({
      formatVersion: 1,
      cluster: policy.cluster,
      snapshotName,
      archiveUrl: `file://${dir}/${snapshotName}.tar.gz`,
      status: 'Completed',
      startedAt: '2026-01-01T00:00:01Z',
      finishedAt: '2026-01-01T00:00:09Z',
      nominalTime: '2026-01-01T00:00:00Z',
      bytes: 1,
      keys: 1,
      volumes: [{ pvc: 'data', phase: 'Completed', driver: victim.driver, snapshotHandle: victim.handle }],
    });
    const unsigned = `${policy.cluster.name}-2026-01-01T00-00-00Z`;
    const otherKey = `${policy.cluster.name}-2026-01-02T00-00-00Z`;
    writeFileSync(join(dir, `${unsigned}.json`), JSON.stringify(forged(unsigned)));
    writeFileSync(join(dir, `${otherKey}.json`), JSON.stringify(signRecord(forged(otherKey), Buffer.from('a key the tenant made up'))));
    for (const name of [unsigned, otherKey]) writeFileSync(join(dir, `${name}.tar.gz`), 'not really an archive');

    const view = await worker.client.workflow.execute(snapshotWorkflow, { taskQueue: worker.taskQueue, workflowId: uniqueName('forgery'), args: [{ policy, nominalTime: '2026-11-23T12:00:00Z' }] });
    assert.equal(view.status, 'Completed', view.error);
    assert.deepEqual([...(view.retention?.deleted ?? [])].sort(), [unsigned, otherKey]);
    assert.deepEqual(
      view.retention?.failed.map((f) => f.name).sort(),
      [unsigned, otherKey],
      'each forged record is reported with its handles left in place',
    );
    for (const failed of view.retention?.failed ?? []) assert.match(failed.reason, /1 volume snapshot\(s\) left in place: the record is not signed by this worker's key/);
    assert.deepEqual(contentCreations(pruneObjectName(victim.driver, victim.handle)), [], 'the API server saw no VolumeSnapshotContent for the victim handle');
  });
});
