// Issue 17 end to end: hostile vc-config Secrets on the real kube-apiserver, each in its own tenant namespace, next to
// two good ones. discoverClusters and sync against the real Temporal server: every bad Secret is its own cluster's
// `invalid` entry with a reason naming it, no exception escapes, the good clusters get their schedules, and no
// credential from a config reaches the report or a schedule.
import { strict as assert } from 'node:assert';
import * as k8s from '@kubernetes/client-node';
import { Client, Connection, ScheduleNotFoundError } from '@temporalio/client';
import { discoverClusters } from '../../lib/kube/discovery';
import { MAX_CONFIG_BYTES } from '../../lib/policy';
import { removePolicy, sync, type SyncReport } from '../../lib/schedules';
import { scheduleIdFor } from '../../contracts/naming';
import { testEnv } from '../harness/env';
import { uniqueName } from '../harness/fixtures';
import { adminKube } from '../harness/temporal';

const PASSWORD = 'bomb-test-Pa55w0rd';

const STORAGE = ['    storage:', '      type: container', '      container:', '        path: /snapshots'];
// Yearly, so no schedule fires while the test runs (nothing polls its task queue).
const GOOD = ['snapshots:', '  auto:', '    schedule: "0 0 1 1 *"', ...STORAGE, ''].join('\n');
const GOOD_LEGACY = ['external:', '  platform:', '    autoSnapshot:', '      enabled: true', '      schedule: "@yearly"', '      storage:', '        type: container', '        container:', '          path: /snapshots', ''].join('\n');

function aliasBomb(): string {
  const lines = ['lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
  for (let level = 1; level < 10; level += 1) lines.push(`lol${level}: &lol${level} [${Array(9).fill(`*lol${level - 1}`).join(', ')}]`);
  return `${lines.join('\n')}\n${GOOD}`;
}

interface Tenant {
  shape: string;
  config: Buffer;
  /** What the sync report must say about it; undefined for a good one. */
  reason?: RegExp;
}

const TENANTS: ReadonlyArray<Tenant> = [
  { shape: 'good', config: Buffer.from(GOOD) },
  { shape: 'good-legacy', config: Buffer.from(GOOD_LEGACY) },
  { shape: 'alias-bomb', config: Buffer.from(aliasBomb()), reason: /\(config\.yaml\): invalid YAML: YAML aliases \(\*name\) expand to more than 100 nodes/ },
  // Under the 1 MiB the kube-apiserver allows a Secret, over the half MiB the worker reads.
  { shape: 'oversized', config: Buffer.from(`${GOOD}padding: "${'x'.repeat(MAX_CONFIG_BYTES + 64 * 1024)}"\n`), reason: /\(config\.yaml\): the vcluster\.yaml is 57\d KiB, more than the 512 KiB read/ },
  { shape: 'deep', config: Buffer.from(`${GOOD}deep: ${'['.repeat(200_000)}${']'.repeat(200_000)}\n`), reason: /\(config\.yaml\): invalid YAML at line \d+, column \d+: nested deeper than 64 levels/ },
  { shape: 'not-utf8', config: Buffer.concat([Buffer.from(GOOD), Buffer.from('# caf'), Buffer.from([0xe9, 0x0a])]), reason: /\(config\.yaml\): the vcluster\.yaml is not valid UTF-8 text \(invalid byte 0xe9 at byte offset \d+\)/ },
  { shape: 'not-a-mapping', config: Buffer.from('- snapshots\n- auto\n'), reason: /\(config\.yaml\): the vcluster\.yaml must be a mapping, got a list$/ },
  {
    shape: 'etcd-password',
    config: Buffer.from(`${GOOD}    etcd:\n      endpoints: ["https://root:${PASSWORD}@etcd.databases:2379"]\n`),
    reason: /^snapshots\.auto\.etcd\.endpoints\[0\]: must not carry a user name or password/,
  },
  {
    shape: 'greedy',
    config: Buffer.from(GOOD.replace('"0 0 1 1 *"', '"@every 1s"') + '    volumes:\n      enabled: true\n      concurrency: 100000\n'),
    reason: /^snapshots\.auto\.schedule: "@every 1s" fires as often as every 1s; .*\nsnapshots\.auto\.volumes\.concurrency: must be at most 50 /,
  },
];

describe('security: hostile vc-config Secrets (config bombs)', function () {
  this.timeout(120_000);
  const namespaces = new Map(TENANTS.map((tenant) => [tenant.shape, uniqueName(`bomb-${tenant.shape}`)]));
  const clusterOf = (tenant: Tenant) => ({ name: tenant.shape, namespace: namespaces.get(tenant.shape)! });
  const core = () => adminKube().makeApiClient(k8s.CoreV1Api);
  let connection: Connection;
  let client: Client;
  const taskQueue = uniqueName('bombs-no-worker');
  let report: SyncReport | undefined;

  before(async () => {
    connection = await Connection.connect({ address: testEnv().temporal.address });
    client = new Client({ connection, namespace: testEnv().temporal.namespace });
    for (const tenant of TENANTS) {
      const { name, namespace } = clusterOf(tenant);
      await core().createNamespace({ body: { metadata: { name: namespace } } });
      await core().createNamespacedSecret({
        namespace,
        body: { metadata: { name: `vc-config-${name}`, labels: { app: 'vcluster', release: name } }, data: { 'config.yaml': tenant.config.toString('base64') } },
      });
    }
  });

  after(async () => {
    // Everything this sync created, the clusters of other suites included, and the tenants' namespaces.
    for (const scheduleId of report?.created ?? []) await client.schedule.getHandle(scheduleId).delete().catch(() => undefined);
    for (const tenant of TENANTS) await removePolicy({ client }, clusterOf(tenant));
    for (const namespace of namespaces.values()) await core().deleteNamespace({ name: namespace }).catch(() => undefined);
    await connection?.close();
  });

  it('discovers every Secret: the good ones as policies, each bad one as its own error naming the Secret', async () => {
    const started = Date.now();
    const discovered = await discoverClusters(adminKube());
    assert.ok(Date.now() - started < 20_000, `discovery took ${Date.now() - started} ms`);
    for (const tenant of TENANTS) {
      const { name, namespace } = clusterOf(tenant);
      const found = discovered.find((d) => d.cluster.namespace === namespace && d.cluster.name === name);
      assert.ok(found, `${tenant.shape}: not discovered`);
      if (tenant.reason === undefined) {
        assert.equal(found.error, undefined, `${tenant.shape}: ${found.error}`);
        assert.ok(found.policy, tenant.shape);
        continue;
      }
      assert.equal(found.policy, null, tenant.shape);
      assert.match(found.error ?? '', tenant.reason, tenant.shape);
      if (found.error?.includes('(config.yaml)')) assert.ok(found.error.startsWith(`Secret ${namespace}/vc-config-${name} (config.yaml): `), found.error);
    }
  });

  it('sync gives the good clusters schedules and reports each bad one in `invalid` with its reason', async () => {
    const synced = await sync({ client, taskQueue }, await discoverClusters(adminKube()));
    report = synced;
    for (const tenant of TENANTS) {
      const scheduleId = scheduleIdFor(clusterOf(tenant));
      const invalid = synced.invalid.find((entry) => entry.scheduleId === scheduleId);
      const exists = await client.schedule.getHandle(scheduleId).describe().then(
        () => true,
        (err: unknown) => (err instanceof ScheduleNotFoundError ? false : Promise.reject(err)),
      );
      if (tenant.reason === undefined) {
        assert.ok(synced.created.includes(scheduleId), `${tenant.shape}: ${JSON.stringify(synced)}`);
        assert.equal(invalid, undefined);
        assert.ok(exists, `${tenant.shape}: no schedule`);
      } else {
        assert.ok(invalid, `${tenant.shape} is not reported invalid`);
        assert.match(invalid.error, tenant.reason, tenant.shape);
        assert.ok(invalid.error.length < 4096, `${tenant.shape}: ${invalid.error.length} characters`);
        assert.equal(exists, false, `${tenant.shape} got a schedule`);
      }
    }
    assert.deepEqual(synced.failed.filter((entry) => [...namespaces.values()].some((ns) => entry.scheduleId.startsWith(`vcsnap.${ns}.`))), []);
  });

  it('keeps the etcd password out of the report and every schedule', async () => {
    assert.ok(report, 'sync ran');
    assert.ok(!JSON.stringify(report).includes(PASSWORD), 'the sync report holds the password');
    for await (const schedule of client.schedule.list()) {
      if (!schedule.scheduleId.startsWith('vcsnap.')) continue;
      const description = await client.schedule.getHandle(schedule.scheduleId).describe().catch(() => undefined);
      assert.ok(!JSON.stringify(description?.action ?? {}).includes(PASSWORD), `${schedule.scheduleId} holds the password`);
    }
  });
});
