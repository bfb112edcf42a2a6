// Fault 5: the cluster's etcd does not answer. The run must fail quickly with a reason that names the endpoint, after
// one attempt: retrying a dead endpoint only delays the reason (the next scheduled run tries again).
import { strict as assert } from 'node:assert';
import { createServer, type Server } from 'node:net';
import { WorkflowFailedError } from '@temporalio/client';
import { freePort } from '../../scripts/servers/process';
import { statusQuery } from '../../contracts/definitions';
import { snapshotWorkflow } from '../../workflows';
import { filePolicy, uniqueName } from '../harness/fixtures';
import { startTestWorker, type TestWorker } from '../harness/temporal';
import { activityOutcomes } from './support/history';

describe('fault: etcd unreachable', function () {
  this.timeout(60_000);
  let worker: TestWorker;
  let blackHole: Server;

  before(async () => {
    worker = await startTestWorker();
    // Accepts connections and never answers, like a host whose etcd hangs.
    blackHole = createServer(() => undefined);
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    blackHole?.close();
    await worker?.stop();
  });

  const cases = [
    { name: 'nothing listening (connection refused)', endpoint: async () => `http://127.0.0.1:${await freePort()}`, maxActivityMs: 3_000 },
    { name: 'a port that accepts and never answers', endpoint: async () => `http://127.0.0.1:${(blackHole.address() as { port: number }).port}`, maxActivityMs: 8_000 },
  ];
  for (const { name, endpoint, maxActivityMs } of cases) {
    it(`${name}: Failed after one attempt, quickly, with the endpoint in the reason`, async () => {
      const url = await endpoint();
      const policy = filePolicy({ state: { endpoints: [url], origin: 'explicit' } });
      const handle = await worker.client.workflow.start(snapshotWorkflow, { taskQueue: worker.taskQueue, workflowId: uniqueName('etcd-down'), args: [{ policy }] });
      await assert.rejects(handle.result(), (err: unknown) => err instanceof WorkflowFailedError);
      const view = await handle.query(statusQuery);
      assert.equal(view.status, 'Failed');
      assert.ok(view.error?.includes(new URL(url).host), `reason names the endpoint: ${view.error}`);
      const dump = (await activityOutcomes(handle)).find((a) => a.activityType === 'dumpAndStore');
      assert.equal(dump?.outcome, 'failed');
      assert.equal(dump?.attempt, 1, 'no retries of an unreachable etcd');
      const activityMs = dump!.closedMs - dump!.scheduledMs;
      assert.ok(activityMs < maxActivityMs, `activity took ${activityMs} ms`);
      console.log(`      ${view.error} (activity ${activityMs} ms, ${dump?.attempt} attempt)`);
    });
  }
});
