// Fresh histories of this code (real servers): each run's history replays at once, and with
// VCSNAP_CAPTURE_HISTORIES=1 it is written to test/fixtures/histories/ for the committed-history replay test
// (test/replay/committed.test.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import * as k8s from '@kubernetes/client-node';
import type { WorkflowHandle } from '@temporalio/client';
import { snapshotWorkflow } from '../../workflows';
import { volumeWorkflowIdFor } from '../../contracts/naming';
import { addBoundCsiClaim, addDefaultSnapshotClass } from '../harness/csi-objects';
import { testEnv } from '../harness/env';
import { filePolicy, uniqueName } from '../harness/fixtures';
import { adminKube, ensureTestRuntime, startTestWorker, type TestWorker } from '../harness/temporal';
import { FakeCsiSnapshotController } from './fake-csi-snapshot-controller';

const HISTORY_DIR = join(__dirname, '..', 'fixtures', 'histories');

async function replay(name: string, history: unknown): Promise<void> {
  ensureTestRuntime();
  await Worker.runReplayHistory({ workflowBundle: { codePath: testEnv().workflowBundlePath } }, history, name);
}

describe('workflow replay', () => {
  describe('fresh histories of this code', () => {
    let worker: TestWorker;
    before(async () => {
      worker = await startTestWorker({ pollIntervalMs: 100 });
    });
    after(async () => worker.stop());

    /** A snapshot of two CSI PVCs, `data` and `logs`, the test playing the CSI controller; `logs` fails. */
    async function volumesRun(w: TestWorker): Promise<Record<string, WorkflowHandle>> {
      const kube = adminKube();
      const cluster = { name: uniqueName('vc'), namespace: uniqueName('replay') };
      const driver = `${cluster.namespace}.csi.test`;
      await kube.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: cluster.namespace } } });
      await addDefaultSnapshotClass(kube, uniqueName('vsc'), driver);
      for (const pvc of ['data', 'logs']) await addBoundCsiClaim(kube, cluster, pvc, driver);
      const controller = await FakeCsiSnapshotController.start(kube, { namespace: cluster.namespace, failContent: { logs: 'rpc error: code = Internal desc = replay fixture' } });
      try {
        const policy = filePolicy({ cluster, volumes: { enabled: true, concurrency: 2 } });
        // A fixed ID (each test run has its own server): the children's IDs derive from it, so replay needs it too.
        const workflowId = 'snapshot-volumes-partial';
        const parent = await w.client.workflow.start(snapshotWorkflow, { taskQueue: w.taskQueue, workflowId, args: [{ policy, nominalTime: '2026-11-23T12:00:00Z' }] });
        await parent.result();
        const child = (pvc: string) => w.client.workflow.getHandle(volumeWorkflowIdFor(workflowId, pvc));
        return { 'snapshot-volumes-partial': parent, 'volume-completed': child('data'), 'volume-failed': child('logs') };
      } finally {
        await controller.stop();
      }
    }

    const cases: Array<{ name: string; run: (w: TestWorker) => Promise<WorkflowHandle> }> = [
      {
        name: 'snapshot-completed-file',
        run: (w) => w.client.workflow.start(snapshotWorkflow, { taskQueue: w.taskQueue, workflowId: uniqueName('replay'), args: [{ policy: filePolicy(), nominalTime: '2026-11-23T12:00:00Z' }] }),
      },
      {
        name: 'snapshot-failed-unreachable-etcd',
        run: (w) =>
          w.client.workflow.start(snapshotWorkflow, {
            taskQueue: w.taskQueue,
            workflowId: uniqueName('replay'),
            args: [{ policy: filePolicy({ engine: 'direct', state: { endpoints: [], origin: 'none', unavailableReason: 'no etcd endpoint configured' } }), nominalTime: '2026-11-23T12:00:00Z' }],
          }),
      },
      {
        name: 'snapshot-volumes-none',
        run: (w) =>
          w.client.workflow.start(snapshotWorkflow, {
            taskQueue: w.taskQueue,
            workflowId: uniqueName('replay'),
            args: [{ policy: filePolicy({ volumes: { enabled: true, concurrency: 10 }, cluster: { name: uniqueName('vc'), namespace: uniqueName('ns') } }), nominalTime: '2026-11-23T12:00:00Z' }],
          }),
      },
      {
        // The copy step (patched('copy-destination')): primary and copy both directories.
        name: 'snapshot-copy-file',
        run: (w) => {
          const copyDir = join(testEnv().runDir, 'file-store', uniqueName('copy'));
          mkdirSync(copyDir, { recursive: true });
          return w.client.workflow.start(snapshotWorkflow, {
            taskQueue: w.taskQueue,
            workflowId: uniqueName('replay'),
            args: [{ policy: filePolicy({ copy: { type: 'container', path: copyDir } }), nominalTime: '2026-11-23T12:00:00Z' }],
          });
        },
      },
    ];
    async function check(name: string, handle: WorkflowHandle): Promise<void> {
      await handle.result().catch(() => undefined);
      const history = await handle.fetchHistory();
      await replay(name, history);
      if (process.env.VCSNAP_CAPTURE_HISTORIES) {
        mkdirSync(HISTORY_DIR, { recursive: true });
        writeFileSync(join(HISTORY_DIR, `${name}.json`), historyToJSON(history));
      }
    }
    for (const c of cases) {
      it(`replays ${c.name}`, async () => check(c.name, await c.run(worker)));
    }
    it('replays snapshot-volumes-partial and its volume children (volume-completed, volume-failed)', async () => {
      for (const [name, handle] of Object.entries(await volumesRun(worker))) await check(name, handle);
    });
  });
});
