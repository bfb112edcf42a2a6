// Retention and the catalog on real storage: 40 snapshots over 60 days pruned to exactly the planner's set on S3,
// Azure Blob, OCI and file; an archive deleted by hand shows as NotFound, and the next run's retention drops its record.
import { strict as assert } from 'node:assert';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { Client, Connection } from '@temporalio/client';
import { planRetention } from '../../lib/retention-plan';
import { createStore } from '../../lib/storage';
import type { SnapshotStore } from '../../lib/storage/types';
import { listSnapshots } from '../../client/catalog';
import { applyPolicy, pause, removePolicy } from '../../lib/schedules';
import type { SnapshotPolicy } from '../../contracts/definitions';
import { snapshotNameFor } from '../../contracts/naming';
import { snapshotWorkflow } from '../../workflows';
import { azureLocation } from '../harness/azure';
import { testEnv } from '../harness/env';
import { basePolicy, filePolicy, uniqueName } from '../harness/fixtures';
import { startTestWorker, type TestWorker } from '../harness/temporal';

const NOW = new Date('2026-11-23T12:00:00Z');
const DAY = 86_400_000;
/** 40 nominal times spread over the last 60 days, oldest first. */
const NOMINAL_TIMES = Array.from({ length: 40 }, (_, i) => new Date(NOW.getTime() - (60 * DAY * (39 - i)) / 39));

interface Backend {
  name: string;
  policy: () => Promise<SnapshotPolicy>;
  store: (policy: SnapshotPolicy) => SnapshotStore;
}

const backends: Backend[] = [
  { name: 'file', policy: async () => filePolicy(), store: (p) => createStore(p.storage) },
  {
    name: 's3',
    policy: async () => {
      const { endpoint, accessKeyId, secretAccessKey } = testEnv().minio;
      const bucket = uniqueName('retention');
      const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      s3.destroy();
      // The default chain picks the credentials up from the worker's environment (set in `before`).
      return basePolicy({ type: 's3', bucket, prefix: 'r', endpoint, region: 'us-east-1', forcePathStyle: true, insecureSkipTlsVerify: false, skipClientCredentials: false });
    },
    store: (p) => createStore(p.storage, { accessKeyId: testEnv().minio.accessKeyId, secretAccessKey: testEnv().minio.secretAccessKey }),
  },
  {
    // The account key comes from a Secret in the cluster's namespace, read by the worker as in production.
    name: 'azure',
    policy: async () => {
      const policy = basePolicy({ type: 'container', path: '/unused' });
      return { ...policy, storage: await azureLocation(policy.cluster.namespace, 'r') };
    },
    store: (p) => createStore(p.storage, { accountKey: testEnv().azurite.accountKey }),
  },
  {
    name: 'oci',
    policy: async () => basePolicy({ type: 'oci', registry: testEnv().registry.host, repository: `retention/${uniqueName('r')}`, insecure: true }),
    store: (p) => createStore(p.storage),
  },
];

describe('retention and catalog', function () {
  this.timeout(600_000);
  let worker: TestWorker;
  let connection: Connection;
  let client: Client;

  before(async () => {
    process.env.AWS_ACCESS_KEY_ID = testEnv().minio.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = testEnv().minio.secretAccessKey;
    worker = await startTestWorker({ clock: () => NOW });
    connection = await Connection.connect({ address: testEnv().temporal.address });
    client = new Client({ connection, namespace: testEnv().temporal.namespace });
  });
  after(async () => {
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    await connection.close();
    await worker.stop();
  });

  const snapshot = (policy: SnapshotPolicy, nominalTime: Date) =>
    worker.client.workflow.execute(snapshotWorkflow, { taskQueue: worker.taskQueue, workflowId: uniqueName('retention'), args: [{ policy, nominalTime: nominalTime.toISOString() }] });

  for (const backend of backends) {
    it(`prunes 40 snapshots over 60 days to exactly the planner's set (${backend.name})`, async () => {
      const policy = { ...(await backend.policy()), retention: { periodDays: 30, maxSnapshots: 12 } };
      for (const time of NOMINAL_TIMES) {
        const view = await snapshot(policy, time);
        assert.equal(view.status, 'Completed');
      }
      const all = NOMINAL_TIMES.map((t) => ({ snapshotName: snapshotNameFor(policy.cluster.name, t), status: 'Completed' as const, nominalTime: t.toISOString() }));
      const pruned = new Set(planRetention(all, policy.retention, NOW).map((d) => d.snapshotName));
      const expected = all.map((s) => s.snapshotName).filter((name) => !pruned.has(name)).sort();
      assert.equal(expected.length, 12);
      const store = backend.store(policy);
      assert.deepEqual((await store.listArchives()).map((a) => a.snapshotName).sort(), expected, 'archives');
      assert.deepEqual((await store.listRecords()).map((r) => r.snapshotName).sort(), expected, 'metadata records');

      // An archive deleted by hand: the catalog says NotFound, and the next run's retention drops its record.
      const target = { client, taskQueue: worker.taskQueue };
      await applyPolicy(target, policy);
      await pause(target, policy.cluster, 'test: no scheduled fires');
      const gone = expected[3];
      await store.deleteArchive(gone);
      const catalog = await listSnapshots(target, policy.cluster);
      assert.equal(catalog.find((e) => e.snapshotName === gone)?.status, 'NotFound');
      assert.equal(catalog.filter((e) => e.status === 'Completed').length, 11);
      await snapshot(policy, new Date(NOW.getTime() - 60_000));
      assert.equal(await store.getRecord(gone), undefined, 'NotFound record removed by retention');
      const after = await listSnapshots(target, policy.cluster);
      assert.ok(!after.some((e) => e.snapshotName === gone));
      await removePolicy(target, policy.cluster);
    });
  }
});
