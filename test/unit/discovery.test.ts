// One vc-config Secret at a time, without a kube-apiserver: each hostile shape becomes that cluster's error naming
// the Secret, never an exception; good ones still parse; the report of one cluster stays small.
import { strict as assert } from 'node:assert';
import type { V1Secret } from '@kubernetes/client-node';
import { clusterFromSecret, formatClusterErrors } from '../../lib/kube/discovery';
import { MAX_CONFIG_BYTES, POLICY_LIMITS } from '../../lib/policy';

const GOOD = 'snapshots:\n  auto:\n    schedule: "@hourly"\n    storage:\n      type: container\n      container:\n        path: /snapshots\n';

function secret(name: string, config: string | Buffer | undefined, annotations?: Record<string, string>): V1Secret {
  const data: Record<string, string> = config === undefined ? {} : { 'config.yaml': Buffer.from(config).toString('base64') };
  return { metadata: { name: `vc-config-${name}`, namespace: 'team-a', labels: { app: 'vcluster', release: name }, annotations }, data };
}

function errorOf(config: string | Buffer, name = 'bad'): string {
  const found = clusterFromSecret(secret(name, config), 'auto', POLICY_LIMITS);
  assert.equal(found.policy, null);
  assert.ok(found.error, `expected an error, got ${JSON.stringify(found)}`);
  return found.error;
}

function aliasBomb(): string {
  const lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
  for (let level = 1; level < 10; level += 1) lines.push(`a${level}: &a${level} [${Array(9).fill(`*a${level - 1}`).join(', ')}]`);
  return `${lines.join('\n')}\n${GOOD}`;
}

describe('discovery: one vc-config Secret', () => {
  it('reads a good Secret into a policy, its chart label into the release', () => {
    const good = secret('good', GOOD);
    good.metadata!.labels!.chart = 'vcluster-0.30.0';
    const found = clusterFromSecret(good, 'auto', POLICY_LIMITS);
    assert.equal(found.error, undefined);
    assert.deepEqual(found.cluster, { name: 'good', namespace: 'team-a' });
    assert.equal(found.policy?.schedule, '@hourly');
    assert.deepEqual(found.policy?.release, { chartName: 'vcluster', chartVersion: '0.30.0' });
  });

  const hostile: ReadonlyArray<{ shape: string; config: () => string | Buffer; reason: RegExp }> = [
    { shape: 'an alias bomb', config: aliasBomb, reason: /: invalid YAML: YAML aliases \(\*name\) expand to more than 100 nodes/ },
    { shape: 'an oversized config.yaml', config: () => `${GOOD}pad: "${'x'.repeat(MAX_CONFIG_BYTES)}"\n`, reason: /: the vcluster\.yaml is 513 KiB, more than the 512 KiB read/ },
    { shape: 'deep nesting', config: () => `${GOOD}deep: ${'['.repeat(100_000)}`, reason: /: invalid YAML at line 8, column \d+: nested deeper than 64 levels/ },
    { shape: 'invalid UTF-8', config: () => Buffer.concat([Buffer.from(GOOD), Buffer.from([0xfe, 0xff, 0x0a])]), reason: /: the vcluster\.yaml is not valid UTF-8 text \(invalid byte 0xfe at byte offset 120\)/ },
    { shape: 'a list, not a mapping', config: () => '- snapshots\n- auto\n', reason: /: the vcluster\.yaml must be a mapping, got a list$/ },
    { shape: 'a string, not a mapping', config: () => 'hello\n', reason: /: the vcluster\.yaml must be a mapping, got a string$/ },
    { shape: 'broken YAML', config: () => 'snapshots:\n  auto: [\n', reason: /: invalid YAML at line \d+, column \d+: / },
  ];
  for (const { shape, config, reason } of hostile) {
    it(`makes ${shape} this cluster's error, naming the Secret`, () => {
      const error = errorOf(config());
      assert.ok(error.startsWith('Secret team-a/vc-config-bad (config.yaml): '), error);
      assert.match(error, reason);
    });
  }

  it('keeps field errors as path and reason, and never echoes etcd credentials', () => {
    const error = errorOf(`${GOOD}    etcd:\n      endpoints: ["https://root:t0p-secret@etcd:2379"]\n`);
    assert.match(error, /^snapshots\.auto\.etcd\.endpoints\[0\]: must not carry a user name or password/);
    assert.ok(!error.includes('t0p-secret') && !error.includes('root'), error);
  });

  it("applies the worker's limits", () => {
    const config = GOOD.replace('"@hourly"', '"@every 10s"') + '    volumes:\n      concurrency: 100000\n';
    assert.deepEqual(errorOf(config).split('\n'), [
      'snapshots.auto.schedule: "@every 10s" fires as often as every 10s; this worker takes at most one snapshot every 1m (VCSNAP_MIN_SCHEDULE_INTERVAL)',
      "snapshots.auto.volumes.concurrency: must be at most 50 (this worker's maximum, VCSNAP_MAX_VOLUME_CONCURRENCY)",
    ]);
    const strict = clusterFromSecret(secret('strict', GOOD.replace('"@hourly"', '"*/2 * * * *"')), 'auto', { ...POLICY_LIMITS, minScheduleIntervalSeconds: 300 });
    assert.match(strict.error ?? '', /^snapshots\.auto\.schedule: "\*\/2 \* \* \* \*" fires as often as every 2m; this worker takes at most one snapshot every 5m/);
  });

  it('reports a Secret without config.yaml and a bad engine annotation as before', () => {
    assert.equal(clusterFromSecret(secret('empty', undefined), 'auto', POLICY_LIMITS).error, 'Secret team-a/vc-config-empty has no config.yaml key');
    const annotated = clusterFromSecret(secret('eng', GOOD, { 'vcsnap.io/engine': 'fastest' }), 'auto', POLICY_LIMITS);
    assert.equal(annotated.error, 'annotation vcsnap.io/engine: "fastest" is not one of auto, direct, request');
    assert.equal(clusterFromSecret(secret('eng', GOOD, { 'vcsnap.io/engine': 'request' }), 'auto', POLICY_LIMITS).policy?.engine, 'request');
  });

  it('reads per-cluster encryption recipients from the annotation, refusing a bad one as this cluster\'s error', () => {
    const recipient = `age1${'q'.repeat(58)}`;
    const annotated = clusterFromSecret(secret('enc', GOOD, { 'vcsnap.io/encryption-recipients': ` ${recipient}, ${recipient} ` }), 'auto', POLICY_LIMITS);
    assert.deepEqual(annotated.policy?.encryption, { recipients: [recipient] });
    assert.equal(clusterFromSecret(secret('plain', GOOD), 'auto', POLICY_LIMITS).policy?.encryption, undefined);
    const privateKey = `AGE-SECRET-KEY-1${'Q'.repeat(58)}`;
    const refused = clusterFromSecret(secret('enc', GOOD, { 'vcsnap.io/encryption-recipients': `${recipient},${privateKey}` }), 'auto', POLICY_LIMITS);
    assert.equal(refused.policy, null);
    assert.match(refused.error ?? '', /^Secret team-a\/vc-config-enc: annotation vcsnap.io\/encryption-recipients: recipient #2 is a private key/);
    assert.ok(!refused.error?.includes('QQQQ'), 'the private key is not echoed');
    const garbage = clusterFromSecret(secret('enc', GOOD, { 'vcsnap.io/encryption-recipients': 'x'.repeat(100_000) }), 'auto', POLICY_LIMITS);
    assert.match(garbage.error ?? '', /too long: at most 16 age recipients/);
  });

  it('turns even an unexpected exception into this cluster\'s error', () => {
    const broken = secret('odd', GOOD);
    Object.defineProperty(broken, 'data', { get: () => { throw new TypeError('no data today'); } });
    assert.deepEqual(clusterFromSecret(broken, 'auto', POLICY_LIMITS), {
      cluster: { name: 'odd', namespace: 'team-a' },
      policy: null,
      error: 'Secret team-a/vc-config-odd (config.yaml) could not be read: TypeError: no data today',
    });
  });
});

describe("discovery: one cluster's error stays small", () => {
  it('shows 10 issues and counts the rest', () => {
    const issues = Array.from({ length: 25 }, (_, i) => ({ path: `snapshots.auto.etcd.endpoints[${i}]`, message: 'must be an http:// or https:// URL' }));
    const lines = formatClusterErrors('Secret team-a/vc-config-x', issues).split('\n');
    assert.equal(lines.length, 11);
    assert.equal(lines[10], '(and 15 more issues in Secret team-a/vc-config-x)');
  });

  it('cuts a long issue', () => {
    const text = formatClusterErrors('Secret team-a/vc-config-x', [{ path: 'snapshots.auto.timezone', message: `unknown IANA time zone "${'x'.repeat(100_000)}"` }]);
    assert.equal(text.length, 400);
    assert.ok(text.endsWith('…'));
  });

  it('keeps a whole document of bad endpoints to a few KiB', () => {
    const endpoints = Array.from({ length: 5000 }, (_, i) => `      - ftp://etcd-${i}:2379`).join('\n');
    const error = errorOf(`${GOOD}    etcd:\n      endpoints:\n${endpoints}\n`);
    assert.ok(error.length < 4096, `${error.length} characters`);
    assert.match(error, /\(and 4990 more issues in Secret team-a\/vc-config-bad\)$/);
  });
});
