// The fast tier's one fixture: Temporal's own test environment (the pinned `temporal` CLI dev server, no other
// servers), the workflow bundle, and workers whose activities are recording stubs. One environment per test file,
// one task queue per test.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import type { createActivities } from '../../activities';
import { SEARCH_ATTRIBUTES, type SnapshotPolicy } from '../../contracts/definitions';
import { temporalCliPath } from '../../scripts/servers/temporal';
import { eventually } from '../harness/eventually';
import { ensureTestRuntime, quietLogger } from '../harness/runtime';

export type Activities = ReturnType<typeof createActivities>;
export type ActivityName = keyof Activities;
type Input<K extends ActivityName> = Parameters<Activities[K]>[0];
type Output<K extends ActivityName> = Awaited<ReturnType<Activities[K]>>;
export type StubImpls = { [K in ActivityName]?: (input: Input<K>) => Promise<Output<K>> | Output<K> };

/** Every activity the workflows under test call: a stub a test did not provide fails the call, non-retryably. */
const WORKFLOW_ACTIVITIES = [
  'discoverVolumes',
  'createVolumeSnapshot',
  'waitForVolumeSnapshot',
  'retainAndReleaseVolumeSnapshot',
  'deleteVolumeSnapshot',
  'dumpAndStore',
  'snapshotByRequest',
  'copySnapshot',
  'writeRecord',
  'applyRetention',
  'verifyStoredArchive',
  'restoreArchiveToEtcd',
  'findDrillSnapshot',
  'restoreAndCheck',
  'recordDrill',
  'raiseAlert',
  'sendAlert',
] as const satisfies readonly ActivityName[];

let bundle: Promise<WorkflowBundle> | undefined;
/** workflows/index.ts bundled once per process (every test file shares it). */
function workflowBundle(): Promise<WorkflowBundle> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    logger: quietLogger,
  });
  return bundle;
}

const shellQuote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

/**
 * The pinned CLI behind a wrapper that sends its output (the dev server's banner and logs) to `dir`/temporal.log
 * instead of the test reporter. `exec` keeps the process the test environment stops.
 */
function quietCli(cli: string, dir: string): string {
  const wrapper = join(dir, 'temporal');
  writeFileSync(wrapper, `#!/bin/sh\nexec ${shellQuote(cli)} "$@" >>${shellQuote(join(dir, 'temporal.log'))} 2>&1\n`, { mode: 0o755 });
  return wrapper;
}

export interface FastEnv {
  env: TestWorkflowEnvironment;
  client: Client;
  /** Runs `body` while a worker with these stubs serves a fresh task queue; stops the worker afterwards. */
  withWorker<T>(stubs: StubActivities, body: (taskQueue: string) => Promise<T>): Promise<T>;
}

/**
 * Registers before/after hooks on the calling `describe` that start Temporal's test environment on the pinned CLI
 * (with the product's search attributes) and stop it; call the returned function inside tests.
 */
export function useTestEnvironment(): () => FastEnv {
  let fast: FastEnv | undefined;
  let dir: string | undefined;
  before(async function () {
    this.timeout(120_000); // a dev server and a webpack bundle: slow on a busy 2-core machine
    const cli = temporalCliPath();
    if (!existsSync(cli)) throw new Error(`temporal CLI not built at ${cli}: run scripts/install-servers.sh`);
    ensureTestRuntime();
    dir = mkdtempSync(join(tmpdir(), 'vcsnap-fast-tier-'));
    const [env, code] = await Promise.all([
      TestWorkflowEnvironment.createLocal({
        server: {
          executable: { type: 'existing-path', path: quietCli(cli, dir) },
          ip: '127.0.0.1',
          searchAttributes: Object.values(SEARCH_ATTRIBUTES),
          log: { format: 'pretty', level: 'error' },
        },
      }),
      workflowBundle(),
    ]);
    fast = {
      env,
      client: env.client,
      async withWorker(stubs, body) {
        const taskQueue = `fast-${randomUUID()}`;
        const worker = await Worker.create({
          connection: env.nativeConnection,
          namespace: env.namespace ?? 'default',
          taskQueue,
          workflowBundle: code,
          activities: stubs.activities,
          // Cancellation reaches an activity with a heartbeat's response: let stubs' heartbeats through at once.
          maxHeartbeatThrottleInterval: '20 milliseconds',
          defaultHeartbeatThrottleInterval: '20 milliseconds',
        });
        return worker.runUntil(() => body(taskQueue));
      },
    };
  });
  after(async function () {
    this.timeout(30_000);
    await fast?.env.teardown();
    fast = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });
  return () => {
    if (!fast) throw new Error('the test environment is not started (useTestEnvironment registers a before hook)');
    return fast;
  };
}

/** Stub activities that record each call's input, in order. */
export class StubActivities {
  private readonly recorded: { name: ActivityName; input: unknown }[] = [];
  readonly activities: Record<string, (input: unknown) => Promise<unknown>> = {};

  constructor(impls: StubImpls) {
    for (const name of WORKFLOW_ACTIVITIES) {
      const impl = impls[name] as ((input: unknown) => unknown) | undefined;
      this.activities[name] = async (input: unknown) => {
        this.recorded.push({ name, input });
        if (!impl) throw ApplicationFailure.nonRetryable(`stub ${name} was not expected to be called`, 'UnexpectedStubCall');
        return impl(input);
      };
    }
  }

  /** Inputs of every call of `name`, in call order. */
  calls<K extends ActivityName>(name: K): Input<K>[] {
    return this.recorded.filter((call) => call.name === name).map((call) => call.input as Input<K>);
  }

  /** Names of the activities called, in call order. */
  names(): ActivityName[] {
    return this.recorded.map((call) => call.name);
  }
}

export interface Gate {
  promise: Promise<void>;
  open(): void;
}

export function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/**
 * Inside a stub: heartbeats until `released` resolves, or throws the activity's CancelledFailure when the workflow
 * cancels it (`onCancel` is called first).
 */
export async function heartbeatUntil(released: Promise<void>, onCancel?: () => void): Promise<void> {
  const ctx = Context.current();
  ctx.heartbeat();
  const beat = setInterval(() => ctx.heartbeat(), 20);
  try {
    await Promise.race([released, ctx.cancelled]);
  } catch (err) {
    onCancel?.();
    throw err;
  } finally {
    clearInterval(beat);
  }
}

/** Short bounded polling for the fast tier. */
export function soon<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false): Promise<T> {
  return eventually(what, check, 10_000, 25);
}

export function workflowId(prefix: string): string {
  return `${prefix}-${randomUUID()}`;
}

/** The Web UI's "current details" of a running or closed workflow. */
export async function currentDetailsOf(client: Client, id: string): Promise<string> {
  const metadata = await client.workflow.getHandle(id).query<{ currentDetails?: string | null }>('__temporal_workflow_metadata');
  return metadata.currentDetails ?? '';
}

export const CLUSTER = { name: 'demo', namespace: 'team-a' };
export const NOMINAL_TIME = '2026-01-02T03:04:05.000Z';
export const SNAPSHOT_NAME = 'demo-2026-01-02T03-04-05Z';

export function testPolicy(volumes: SnapshotPolicy['volumes'] = { enabled: false, concurrency: 2 }): SnapshotPolicy {
  return {
    cluster: CLUSTER,
    schedule: '0 * * * *',
    timezone: 'UTC',
    retention: { periodDays: 7, maxSnapshots: 5 },
    storage: { type: 'container', path: '/var/lib/vcsnap' },
    volumes,
    overlap: 'SKIP',
    catchupWindowSeconds: 60,
    state: { endpoints: ['https://demo-etcd.team-a:2379'], origin: 'explicit' },
  };
}

/** The cause of the WorkflowFailedError `result` rejects with (fails the test when it resolves). */
export async function failureOf(result: Promise<unknown>): Promise<Error> {
  try {
    await result;
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    if (!(err.cause instanceof Error)) throw new Error(`workflow failed without a cause: ${err.message}`);
    return err.cause;
  }
  throw new Error('the workflow completed, but it was expected to fail');
}
