// What tests see of the servers the harness started: plain endpoints and credentials, read from the file the
// global setup wrote (so it works in mocha's serial and parallel modes alike).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const TEST_RUNS_DIR = join(__dirname, '..', '..', '.vcsnap');
// One directory per mocha run (so concurrent runs never share servers); mocha's parallel workers inherit it.
export const TEST_RUN_DIR = process.env.VCSNAP_TEST_DIR ?? join(TEST_RUNS_DIR, `test-run-${process.pid}`);
export const TEST_ENV_FILE = join(TEST_RUN_DIR, 'env.json');

export interface TestEnv {
  runDir: string;
  workflowBundlePath: string;
  temporal: { address: string; namespace: string };
  minio: { endpoint: string; accessKeyId: string; secretAccessKey: string };
  /** Azurite's blob service for one test account (path-style), and that account's key. */
  azurite: { serviceUrl: string; accountName: string; accountKey: string };
  registry: { host: string };
  authRegistry: { host: string; username: string; password: string };
  etcd: { endpoint: string };
  kube: { server: string; adminToken: string; kubeconfigFile: string; tokens: Record<string, string>; etcdEndpoint: string; auditLogFile: string };
}

let cached: TestEnv | undefined;

export function testEnv(): TestEnv {
  cached ??= JSON.parse(readFileSync(TEST_ENV_FILE, 'utf8')) as TestEnv;
  return cached;
}
