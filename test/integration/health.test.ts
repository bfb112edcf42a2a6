// The worker's probes (issue 22): the compiled worker, as the image and the Helm chart run it, against a Temporal
// dev server of its own, so the test can stop Temporal and watch readiness go.
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../scripts/servers/process';
import { startTemporal, type TemporalServer } from '../../scripts/servers/temporal';
import { eventually } from '../harness/eventually';
import { testEnv } from '../harness/env';
import { uniqueName } from '../harness/fixtures';

const ROOT = join(__dirname, '..', '..');

interface Probe {
  status: number;
  body: { ok: boolean; checks: Record<string, string> };
}

async function probe(port: number, path: '/livez' | '/readyz'): Promise<Probe> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: (await res.json()) as Probe['body'] };
}

describe('worker health endpoints (compiled worker, its own Temporal)', function () {
  this.timeout(120_000);
  let temporal: TemporalServer | undefined;
  let worker: ChildProcess | undefined;

  after(async () => {
    worker?.kill('SIGKILL');
    await temporal?.stop();
  });

  it('is ready only once it polls, stays live, and is not ready while Temporal is down', async () => {
    const dir = join(testEnv().runDir, uniqueName('health'));
    mkdirSync(dir, { recursive: true });
    temporal = await startTemporal({ dir });
    const port = await freePort();
    const log = createWriteStream(join(dir, 'worker.log'));
    worker = spawn(process.execPath, [join(ROOT, 'dist', 'worker', 'main.js')], {
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: temporal.address,
        TEMPORAL_NAMESPACE: temporal.namespace,
        VCSNAP_TASK_QUEUE: uniqueName('health'),
        VCSNAP_WORKFLOW_BUNDLE: join(ROOT, 'dist', 'workflow-bundle.js'),
        VCSNAP_PRODUCT_METRICS_PORT: String(port),
        VCSNAP_RECORD_KEY: Buffer.alloc(32, 7).toString('base64'),
        KUBECONFIG: testEnv().kube.kubeconfigFile,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout?.pipe(log);
    worker.stderr?.pipe(log);

    const ready = await eventually('the worker ready', async () => {
      const answer = await probe(port, '/readyz').catch(() => undefined);
      return answer?.status === 200 && answer;
    }, 60_000);
    assert.deepEqual(ready.body, {
      ok: true,
      checks: { worker: 'RUNNING', workflowPoller: 'POLLING', activityPoller: 'POLLING', temporal: 'serving' },
    });
    const live = await probe(port, '/livez');
    assert.equal(live.status, 200);
    assert.equal(live.body.checks.worker, 'RUNNING');

    await temporal.stop();
    temporal = undefined;
    const down = await eventually('the worker not ready', async () => {
      const answer = await probe(port, '/readyz');
      return answer.status === 503 && answer;
    });
    assert.equal(down.body.ok, false);
    assert.match(down.body.checks.temporal, /^unreachable: /, JSON.stringify(down.body));
    assert.equal((await probe(port, '/livez')).status, 200, 'a worker waiting for Temporal is alive: restarting it would not help');
  });
});
