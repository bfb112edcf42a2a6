// Fault 8: a secret scan after the whole suite (and of the host cluster's vCluster snapshot requests). The root-level `after` hook below runs once every test of every file
// has finished (mocha runs root hooks after all suites, whatever the file order), and fails the run when a secret
// value used by any test shows up in a workflow history or schedule, a log file, an archive or a metadata record.
import { strict as assert } from 'node:assert';
import { createGzip } from 'node:zlib';
import { Client, Connection } from '@temporalio/client';
import * as k8s from '@kubernetes/client-node';
import { createArchiveWriter } from '../lib/archive/writer';
import { REQUEST_LABEL } from '../lib/vcluster/request';
import { testEnv } from './harness/env';
import { adminKube } from './harness/temporal';
import { SecretScanner, secretsUsedInTests } from './faults/support/secret-scan';

after('secret scan of histories, schedules, logs, archives and records', async function () {
  this.timeout(600_000);
  const scanner = new SecretScanner(await secretsUsedInTests());
  const seconds: string[] = [];
  const timed = async (what: string, scan: () => Promise<void> | void) => {
    const started = Date.now();
    await scan();
    seconds.push(`${what} ${((Date.now() - started) / 1000).toFixed(1)}s`);
  };
  const connection = await Connection.connect({ address: testEnv().temporal.address });
  try {
    await timed('temporal', () => scanner.scanTemporal(new Client({ connection, namespace: testEnv().temporal.namespace })));
  } finally {
    await connection.close();
  }
  await timed('minio', () => scanner.scanMinio());
  await timed('azurite', () => scanner.scanAzurite());
  // Request-engine runs: the request Secrets hold storage credentials and must be gone; the ConfigMaps stay (vCluster
  // keeps them a day) and must hold none.
  const requestSecretsLeft: string[] = [];
  await timed('snapshot requests', async () => {
    const core = adminKube().makeApiClient(k8s.CoreV1Api);
    const secrets = await core.listSecretForAllNamespaces({ labelSelector: REQUEST_LABEL });
    requestSecretsLeft.push(...secrets.items.map((s) => `${s.metadata?.namespace}/${s.metadata?.name}`));
    for (const configMap of (await core.listConfigMapForAllNamespaces({ labelSelector: REQUEST_LABEL })).items) {
      scanner.scan(Buffer.from(JSON.stringify(configMap.data ?? {})), `request ConfigMap ${configMap.metadata?.namespace}/${configMap.metadata?.name}`);
    }
  });
  await timed('files', () => scanner.scanRunDir());
  const { histories, schedules, objects, files, bytes } = scanner.counts;
  console.log(
    `  secret scan: ${scanner.secrets.length} secret values, ${histories} workflow histories, ${schedules} schedules, ${objects} S3 objects and Azure blobs, ` +
      `${files} files (${(bytes / 2 ** 20).toFixed(0)} MiB; ${seconds.join(', ')}): ${scanner.leaks.length} leaks`,
  );
  assert.deepEqual(scanner.leaks, [], 'secret values found where they must never be');
  assert.deepEqual(requestSecretsLeft, [], 'vCluster snapshot request Secrets (they hold storage credentials) left behind');
});

describe('secret scan (runs after the whole suite, in a root after hook)', () => {
  it('finds a planted secret raw, base64, gzipped and in an archive; spares the snapshotted cluster\'s own Secrets', async () => {
    const secret = { value: 'planted-secret-value-42', source: 'planted' };
    const scanner = new SecretScanner([secret]);
    scanner.scan(Buffer.from(`log line ${secret.value}`), 'raw');
    scanner.scan(Buffer.from(`data: ${Buffer.from(secret.value).toString('base64')}`), 'base64');
    scanner.scan(await gzip(Buffer.from(`{"error":"${secret.value}"}`)), 'gzip');
    const archive = await archiveOf([
      ['/vcluster/snapshot/release', JSON.stringify({ values: Buffer.from(`password: x${secret.value}`).toString('base64') })],
      ['/registry/configmaps/default/leaky', `token=${secret.value}`],
      ['/registry/secrets/default/its-own', secret.value],
    ]);
    scanner.scan(Buffer.concat([Buffer.from('xl.meta header'), archive]), 'archive');
    assert.deepEqual(
      scanner.leaks.map((l) => l.where),
      ['raw', 'base64', 'gzip (gunzipped)', 'archive (release entry values)', 'archive (entry /registry/configmaps/default/leaky)'],
    );
    assert.ok((await secretsUsedInTests()).length >= 2);
  });
});

function gzip(data: Buffer): Promise<Buffer> {
  const stream = createGzip();
  stream.end(data);
  return stream.toArray().then((chunks) => Buffer.concat(chunks as Buffer[]));
}

async function archiveOf(entries: [string, string][]): Promise<Buffer> {
  const writer = createArchiveWriter();
  const [chunks] = await Promise.all([
    writer.stream.toArray(),
    (async () => {
      for (const [name, body] of entries) await writer.addEntry(name, Buffer.from(body));
      await writer.finish();
    })(),
  ]);
  return Buffer.concat(chunks as Buffer[]);
}
