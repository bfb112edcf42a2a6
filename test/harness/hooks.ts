// Mocha global fixtures: start every real server once for the whole run, stop them all at the end, on failure and
// on Ctrl-C. Servers come from scripts/install-servers.sh (run by `npm test`'s pretest step).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'; // Node 20 is this project's runtime; the notice is in the README.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { startServers } from '../../scripts/servers';
import { TEST_ENV_FILE, TEST_RUN_DIR, TEST_RUNS_DIR, type TestEnv } from './env';

let stopServers: (() => Promise<void>) | undefined;

async function stopAll(): Promise<void> {
  const stop = stopServers;
  stopServers = undefined;
  if (stop) await stop();
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Run directories of finished runs are kept (their logs help) until the next run starts. */
function removeStaleRunDirs(): void {
  for (const entry of readdirSync(TEST_RUNS_DIR, { withFileTypes: true })) {
    const pid = /^test-run-(\d+)$/.exec(entry.name)?.[1];
    if (pid && !isAlive(Number(pid))) rmSync(`${TEST_RUNS_DIR}/${entry.name}`, { recursive: true, force: true });
  }
}

export async function mochaGlobalSetup(): Promise<void> {
  mkdirSync(TEST_RUN_DIR, { recursive: true });
  removeStaleRunDirs();
  process.env.VCSNAP_TEST_DIR = TEST_RUN_DIR;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      // The servers first, then the same signal again, now with its default action: the run ends killed by it.
      void stopAll().finally(() => process.kill(process.pid, signal));
    });
  }
  const bundlePromise = bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: quietLogger });
  const { servers, stop } = await startServers(TEST_RUN_DIR);
  stopServers = stop;
  const bundle = await bundlePromise.catch(async (err: unknown) => {
    await stopAll();
    throw err;
  });
  const workflowBundlePath = join(TEST_RUN_DIR, 'workflow-bundle.js');
  writeFileSync(workflowBundlePath, bundle.code);
  const env: TestEnv = {
    runDir: TEST_RUN_DIR,
    workflowBundlePath,
    temporal: { address: servers.temporal.address, namespace: servers.temporal.namespace },
    minio: { endpoint: servers.minio.endpoint, accessKeyId: servers.minio.accessKeyId, secretAccessKey: servers.minio.secretAccessKey },
    azurite: { serviceUrl: servers.azurite.serviceUrl, accountName: servers.azurite.accountName, accountKey: servers.azurite.accountKey },
    registry: { host: servers.registry.host },
    authRegistry: { host: servers.authRegistry.host, username: servers.authRegistry.username!, password: servers.authRegistry.password! },
    etcd: { endpoint: servers.etcd.endpoint },
    kube: {
      server: servers.kube.server,
      adminToken: servers.kube.adminToken,
      kubeconfigFile: servers.kube.kubeconfigFile,
      auditLogFile: servers.kube.auditLogFile,
      tokens: servers.kube.tokens,
      etcdEndpoint: servers.kube.etcd.endpoint,
    },
  };
  writeFileSync(TEST_ENV_FILE, JSON.stringify(env, null, 2));
}

export async function mochaGlobalTeardown(): Promise<void> {
  await stopAll();
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};
