// Issue 17: every tenant-written input is hostile. Credentials in etcd URLs are refused without being echoed or
// kept; alias bombs, oversized, deep, wide, broken or non-mapping documents are issues, never exceptions, and cost
// bounded time; the worker's limits on schedules and volume concurrency are field errors.
import { strict as assert } from 'node:assert';
import {
  decodeConfigBytes,
  formatErrors,
  loadPolicyOrThrow,
  MAX_CONFIG_BYTES,
  MAX_CONFIG_DEPTH,
  parsePolicy,
  parsePolicyValues,
  POLICY_LIMITS,
  shortestIntervalSeconds,
  type ConfigIssue,
  type PolicyLimits,
  type PolicyParseResult,
} from '../../lib/policy';
import { loadPolicyLimits } from '../../lib/runtime-config';

const CLUSTER = { name: 'demo', namespace: 'team-a' };
const PASSWORD = 'hunter2-Pa55';

function current(body: string): string {
  return `snapshots:\n  auto:\n${body.replace(/^/gm, '    ')}\n`;
}

function withExtra(extra: string): string {
  return current(`schedule: "@daily"\nstorage:\n  container:\n    path: /snapshots\n${extra}`);
}

function withSchedule(schedule: string): string {
  return current(`schedule: ${JSON.stringify(schedule)}\nstorage:\n  container:\n    path: /snapshots`);
}

function errorsOf(result: PolicyParseResult): ConfigIssue[] {
  assert.equal(result.ok, false, `expected errors, got ${JSON.stringify(result)}`);
  return result.ok ? [] : result.errors;
}

/** Runs `action` with console output, process warnings and stderr writes captured; returns what was printed. */
function printedDuring(action: () => void): string {
  const printed: string[] = [];
  const saved = { log: console.log, warn: console.warn, error: console.error, info: console.info, emitWarning: process.emitWarning, write: process.stderr.write };
  const capture = (...args: unknown[]) => void printed.push(args.map(String).join(' '));
  console.log = console.warn = console.error = console.info = capture;
  process.emitWarning = ((warning: string | Error) => void printed.push(String(warning))) as typeof process.emitWarning;
  process.stderr.write = ((chunk: string | Uint8Array) => printed.push(String(chunk)) > 0) as typeof process.stderr.write;
  try {
    action();
  } finally {
    Object.assign(console, { log: saved.log, warn: saved.warn, error: saved.error, info: saved.info });
    process.emitWarning = saved.emitWarning;
    process.stderr.write = saved.write;
  }
  return printed.join('\n');
}

/** Parses within a time budget: a hostile document must cost the worker little. */
function parseQuickly(text: string, limits?: Partial<PolicyLimits>, budgetMs = 1500): PolicyParseResult {
  const started = Date.now();
  const result = parsePolicy(text, CLUSTER, { limits });
  assert.ok(Date.now() - started < budgetMs, `parsing took ${Date.now() - started} ms`);
  return result;
}

describe('hostile config: credentials in etcd URLs', () => {
  const cases: ReadonlyArray<{ name: string; yaml: string; path: string }> = [
    { name: 'https URL with user and password', yaml: withExtra(`etcd:\n  endpoints:\n    - https://root:${PASSWORD}@etcd.team-a:2379`), path: 'snapshots.auto.etcd.endpoints[0]' },
    { name: 'user info without a scheme', yaml: withExtra(`etcd:\n  endpoints:\n    - https://ok.team-a:2379\n    - root:${PASSWORD}@etcd.team-a:2379`), path: 'snapshots.auto.etcd.endpoints[1]' },
    { name: 'a single endpoint string', yaml: withExtra(`etcd:\n  endpoints: http://root:${PASSWORD}@etcd:2379`), path: 'snapshots.auto.etcd.endpoints[0]' },
    { name: 'percent-encoded password', yaml: withExtra(`etcd:\n  endpoints: ["https://root:${PASSWORD}%21@etcd:2379"]`), path: 'snapshots.auto.etcd.endpoints[0]' },
    { name: 'user name only', yaml: withExtra(`etcd:\n  endpoints: ["https://${PASSWORD}@etcd:2379"]`), path: 'snapshots.auto.etcd.endpoints[0]' },
    {
      name: 'legacy form',
      yaml: `external:\n  platform:\n    autoSnapshot:\n      enabled: true\n      schedule: "@daily"\n      storage: {type: container, container: {path: /s}}\n      etcd: {endpoints: ["https://root:${PASSWORD}@etcd:2379"]}\n`,
      path: 'external.platform.autoSnapshot.etcd.endpoints[0]',
    },
    {
      name: "the external etcd the vCluster itself uses",
      yaml: `controlPlane:\n  backingStore:\n    etcd:\n      external:\n        enabled: true\n        endpoint: root:${PASSWORD}@etcd.databases:2379\n${withExtra('')}`,
      path: 'controlPlane.backingStore.etcd.external.endpoint',
    },
  ];
  for (const { name, yaml, path } of cases) {
    it(`refuses ${name} at ${path}, without echoing it, keeping it or printing it`, () => {
      let result: PolicyParseResult | undefined;
      const printed = printedDuring(() => (result = parsePolicy(yaml, CLUSTER)));
      const errors = errorsOf(result!);
      assert.deepEqual(errors.map((issue) => issue.path), [path]);
      assert.match(errors[0].message, /^must not carry a user name or password \("user:password@"; it is neither kept nor shown\)/);
      const everything = JSON.stringify(result) + formatErrors(errors) + printed;
      for (const secret of [PASSWORD, 'root:', '%21']) assert.ok(!everything.includes(secret), `leaks ${secret}: ${everything}`);
    });
  }

  it('names neither user nor password in the PolicyValidationError', () => {
    assert.throws(
      () => loadPolicyOrThrow(cases[0].yaml, CLUSTER),
      (err: Error) => err.message.includes('snapshots.auto.etcd.endpoints[0]: must not carry') && !err.message.includes(PASSWORD) && !err.message.includes('root'),
    );
  });

  it('does not echo an endpoint with a query (a token) or other characters that may hide a secret', () => {
    for (const endpoint of [`https://etcd:2379?token=${PASSWORD}`, `https://etcd:2379/#${PASSWORD}`, `https://etcd:2379/${PASSWORD}%2F`]) {
      const errors = errorsOf(parsePolicy(withExtra(`etcd:\n  endpoints: [${JSON.stringify(endpoint)}]`), CLUSTER));
      assert.equal(formatErrors(errors), 'snapshots.auto.etcd.endpoints[0]: must be an http:// or https:// URL such as https://demo-etcd.team-a:2379 (without a path, query or fragment)');
    }
  });

  it('still echoes a plain endpoint, which helps and hides nothing', () => {
    const errors = errorsOf(parsePolicy(withExtra('etcd:\n  endpoints: [ftp://etcd:2379]'), CLUSTER));
    assert.equal(formatErrors(errors), 'snapshots.auto.etcd.endpoints[0]: must be an http:// or https:// URL such as https://demo-etcd.team-a:2379, got "ftp://etcd:2379"');
  });

  it('ignores an external endpoint with credentials when auto snapshots are off or another source wins', () => {
    const external = `controlPlane:\n  backingStore:\n    etcd:\n      external:\n        enabled: true\n        endpoint: https://root:${PASSWORD}@etcd:2379\n`;
    assert.deepEqual(parsePolicy(external, CLUSTER), { ok: true, policy: null, reason: 'absent' });
    const explicit = parsePolicy(`${external}${withExtra('etcd:\n  endpoints: [https://kine.team-a:2379]')}`, CLUSTER);
    assert.ok(explicit.ok && explicit.policy);
    assert.deepEqual(explicit.policy.state, { endpoints: ['https://kine.team-a:2379'], origin: 'explicit' });
    assert.ok(!JSON.stringify(explicit).includes(PASSWORD));
  });
});

describe('hostile config: documents that would exhaust the parser', () => {
  it('refuses a billion-laughs alias bomb quickly, as one document-level issue', () => {
    const lines = ['lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
    for (let level = 1; level < 10; level += 1) lines.push(`lol${level}: &lol${level} [${Array(9).fill(`*lol${level - 1}`).join(', ')}]`);
    const errors = errorsOf(parseQuickly(`${lines.join('\n')}\n${withExtra('')}`));
    assert.deepEqual(errors, [{ path: '', message: 'invalid YAML: YAML aliases (*name) expand to more than 100 nodes; write the values out instead of repeating anchors' }]);
  });

  it('refuses merge-key (<<) chains that expand the same way', () => {
    const lines = ['base: &k0 {a: 1, b: 2}'];
    for (let level = 1; level < 30; level += 1) lines.push(`k${level}: &k${level}\n  <<: [*k${level - 1}]\n  x${level}: [*k${level - 1}, *k${level - 1}]`);
    assert.match(errorsOf(parseQuickly(lines.join('\n')))[0].message, /aliases \(\*name\) expand to more than 100 nodes/);
  });

  it('still reads a few anchors and aliases', () => {
    const result = parsePolicy(`common: &storage\n  container: {path: /snapshots}\n${current('schedule: "@daily"\nstorage: *storage')}`, CLUSTER);
    assert.ok(result.ok && result.policy);
    assert.deepEqual(result.policy.storage, { type: 'container', path: '/snapshots' });
  });

  it(`refuses text over ${MAX_CONFIG_BYTES / 1024} KiB before parsing it`, () => {
    const text = `${withExtra('')}padding: "${'x'.repeat(MAX_CONFIG_BYTES)}"\n`;
    assert.deepEqual(errorsOf(parseQuickly(text)), [
      { path: '', message: `the vcluster.yaml is ${Math.ceil(Buffer.byteLength(text) / 1024)} KiB, more than the 512 KiB read (a vCluster's complete values are tens of KiB)` },
    ]);
  });

  it('reads a long string (inline manifests) just under the size limit', () => {
    const manifests = 'x'.repeat(MAX_CONFIG_BYTES - 1000);
    const result = parseQuickly(`${withExtra('')}experimental:\n  deploy:\n    vcluster:\n      manifests: "${manifests}"\n`);
    assert.ok(result.ok && result.policy);
  });

  const deepShapes: ReadonlyArray<{ name: string; make: (levels: number) => string }> = [
    { name: 'flow lists', make: (levels) => `${withExtra('')}deep: ${'['.repeat(levels - 1)}${']'.repeat(levels - 1)}\n` },
    { name: 'block lists', make: (levels) => `${withExtra('')}deep:\n${'- '.repeat(levels - 1)}x\n` },
    { name: 'block mappings', make: (levels) => `${withExtra('')}${Array.from({ length: levels }, (_, i) => `${' '.repeat(i)}k:`).join('\n')} v\n` },
    { name: 'flow mappings', make: (levels) => `${withExtra('')}deep: ${'{a: '.repeat(levels - 1)}1${'}'.repeat(levels - 1)}\n` },
  ];
  for (const { name, make } of deepShapes) {
    it(`reads ${MAX_CONFIG_DEPTH} levels of ${name} and refuses ${MAX_CONFIG_DEPTH + 1}, saying where`, () => {
      assert.ok(parsePolicy(make(MAX_CONFIG_DEPTH), CLUSTER).ok);
      const errors = errorsOf(parsePolicy(make(MAX_CONFIG_DEPTH + 1), CLUSTER));
      assert.equal(errors.length, 1);
      assert.match(errors[0].message, new RegExp(`^invalid YAML at line \\d+, column \\d+: nested deeper than ${MAX_CONFIG_DEPTH} levels of mappings and lists$`));
    });
  }

  it('refuses half a MiB of open brackets in milliseconds (the library alone takes seconds and a GiB)', () => {
    const errors = errorsOf(parseQuickly(`deep: ${'['.repeat(MAX_CONFIG_BYTES - 100)}`, undefined, 500));
    assert.deepEqual(errors, [{ path: '', message: `invalid YAML at line 1, column ${7 + MAX_CONFIG_DEPTH}: nested deeper than ${MAX_CONFIG_DEPTH} levels of mappings and lists` }]);
  });

  it('refuses a mapping with more than 1000 keys (quadratic in the library) and too many values', () => {
    const keys = (count: number) => Array.from({ length: count }, (_, i) => `  k${i}: ${i}`).join('\n');
    assert.ok(parseQuickly(`${withExtra('')}wide:\n${keys(1000)}\n`).ok);
    assert.match(errorsOf(parseQuickly(`${withExtra('')}wide:\n${keys(5000)}\n`))[0].message, /^invalid YAML at line 1009, column \d+: a mapping with more than 1000 keys$/);
    assert.match(errorsOf(parseQuickly(`wide: {${Array.from({ length: 20_000 }, (_, i) => `k${i}: 1`).join(', ')}}`))[0].message, /a mapping with more than 1000 keys/);
    const list = `${withExtra('')}long:\n${'  - 1\n'.repeat(30_000)}`;
    assert.match(errorsOf(parseQuickly(list))[0].message, /^invalid YAML at line \d+, column \d+: more than 20000 values/);
  });

  it('reports the first 10 of many YAML errors, quickly', () => {
    const broken = Array.from({ length: 40_000 }, (_, i) => `${i}: [}{`).join('\n');
    const errors = errorsOf(parseQuickly(broken));
    assert.equal(errors.length, 10);
    assert.ok(errors.every((issue) => issue.path === '' && /^invalid YAML at line \d+, column \d+: /.test(issue.message)));
    assert.match(errors[9].message, /\(and more YAML errors\)$/);
  });

  for (const [name, text, got] of [
    ['a list', '- snapshots\n- auto\n', 'a list'],
    ['a string', 'just some text\n', 'a string'],
    ['a number', '42\n', 'a number'],
    ['a boolean', 'yes\n', 'a boolean'],
  ] as const) {
    it(`refuses a document that is ${name}, not a mapping`, () => {
      assert.deepEqual(errorsOf(parsePolicy(text, CLUSTER)), [{ path: '', message: `the vcluster.yaml must be a mapping, got ${got}` }]);
    });
  }

  it('prints nothing for a collection used as a key (the library would warn with the tenant text)', () => {
    const printed = printedDuring(() => assert.ok(parsePolicy(`? [${PASSWORD}, b]\n: c\n${withExtra('')}`, CLUSTER).ok));
    assert.equal(printed, '');
  });
});

describe('hostile config: bytes and values from code', () => {
  it('refuses invalid UTF-8 saying where, instead of reading U+FFFD', () => {
    const before = Buffer.from('snapshots:\n  auto:\n    schedule: "@daily" # caf\u00e9 ');
    const bytes = Buffer.concat([before, Buffer.from([0xc3, 0x28]), Buffer.from('\n')]);
    const message = `the vcluster.yaml is not valid UTF-8 text (invalid byte 0xc3 at byte offset ${before.length})`;
    assert.deepEqual(decodeConfigBytes(bytes), { ok: false, errors: [{ path: '', message }] });
    for (const bad of [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]]) {
      const result = decodeConfigBytes(Buffer.from([0x61, ...bad]));
      assert.ok(!result.ok && /^the vcluster\.yaml is not valid UTF-8 text \(invalid byte 0x[0-9a-f]{2} at byte offset 1\)$/.test(result.errors[0].message), JSON.stringify(result));
    }
  });

  it('reads valid UTF-8, a written-out U+FFFD included, and drops a byte-order mark', () => {
    assert.deepEqual(decodeConfigBytes(Buffer.from('\uFEFFa: "caf\u00e9 \uFFFD \u{1F642}"')), { ok: true, text: 'a: "caf\u00e9 \uFFFD \u{1F642}"' });
  });

  it('refuses oversized bytes before decoding them', () => {
    const result = decodeConfigBytes(Buffer.alloc(MAX_CONFIG_BYTES + 1, 0x61));
    assert.deepEqual(result, { ok: false, errors: [{ path: '', message: "the vcluster.yaml is 513 KiB, more than the 512 KiB read (a vCluster's complete values are tens of KiB)" }] });
  });

  it('refuses cyclic, too deep or exponentially shared values instead of recursing into them', () => {
    const cyclic: Record<string, unknown> = { snapshots: { auto: { schedule: '@daily' } } };
    (cyclic.snapshots as Record<string, unknown>).self = cyclic;
    let shared: unknown = 'leaf';
    for (let level = 0; level < 60; level += 1) shared = [shared, shared];
    let deep: unknown = 'leaf';
    for (let level = 0; level < 100_000; level += 1) deep = { deep };
    const expectations: Array<[unknown, string]> = [
      [cyclic, `must not nest deeper than ${MAX_CONFIG_DEPTH} levels of mappings and lists (or refer to themselves)`],
      [{ snapshots: { auto: { storage: { s3: shared } } } }, 'must not hold more than 20000 values'],
      [deep, `must not nest deeper than ${MAX_CONFIG_DEPTH} levels of mappings and lists (or refer to themselves)`],
    ];
    for (const [values, message] of expectations) {
      assert.deepEqual(errorsOf(parsePolicyValues(values, CLUSTER)), [{ path: '', message: `the vcluster.yaml values ${message}` }]);
    }
  });
});

describe('limits: schedules', () => {
  const intervals: ReadonlyArray<[string, number]> = [
    ['@every 1s', 1],
    ['@every 1m30s', 90],
    ['* * * * *', 60],
    ['*/5 * * * *', 300],
    ['0,59 * * * *', 60],
    ['0,30 9-17 * * *', 1800],
    ['0 9,17 * * MON-FRI', 8 * 3600],
    ['30 23 * * *', 86_400],
    ['0 23,1 * * *', 2 * 3600],
    ['0 0 * * SAT,SUN', 86_400],
    ['0 0 * * MON,WED', 2 * 86_400],
    ['0 0 31 * *', 31 * 86_400],
    ['0 0 1 JAN,JUL *', 181 * 86_400],
    ['0 0 29 2 *', (3 * 365 + 366) * 86_400],
    ['@hourly', 3600],
    ['@daily', 86_400],
    ['@weekly', 7 * 86_400],
    ['@monthly', 28 * 86_400],
    ['@yearly', 365 * 86_400],
  ];
  for (const [schedule, seconds] of intervals) {
    it(`"${schedule}" fires at most every ${seconds}s`, () => assert.equal(shortestIntervalSeconds(schedule), seconds));
  }

  it('allows the product demo and tests (`* * * * *`, a minute) under the default', () => {
    assert.equal(POLICY_LIMITS.minScheduleIntervalSeconds, 60);
    for (const schedule of ['* * * * *', '@every 1m', '@every 60s', '@hourly']) assert.ok(parsePolicy(withSchedule(schedule), CLUSTER).ok, schedule);
  });

  it('refuses anything more frequent than a minute under the default, as a schedule field error', () => {
    for (const [schedule, every] of [['@every 1s', '1s'], ['@every 30s', '30s'], ['@every 59.5s', '59.5s'], ['@every 500ms', undefined]] as const) {
      const errors = errorsOf(parsePolicy(withSchedule(schedule), CLUSTER));
      assert.equal(errors[0].path, 'snapshots.auto.schedule');
      if (every !== undefined) {
        assert.equal(errors[0].message, `"${schedule}" fires as often as every ${every}; this worker takes at most one snapshot every 1m (VCSNAP_MIN_SCHEDULE_INTERVAL)`);
      }
    }
  });

  it('applies a worker minimum of 5 minutes to cron expressions too', () => {
    const limits = { minScheduleIntervalSeconds: 300 };
    for (const schedule of ['*/5 * * * *', '0,5,10 * * * *', '@every 5m', '@hourly']) assert.ok(parsePolicy(withSchedule(schedule), CLUSTER, { limits }).ok, schedule);
    for (const [schedule, every] of [['* * * * *', '1m'], ['*/2 * * * *', '2m'], ['0,1 * * * *', '1m'], ['@every 4m59s', '4m59s']]) {
      assert.deepEqual(errorsOf(parsePolicy(withSchedule(schedule), CLUSTER, { limits })), [
        { path: 'snapshots.auto.schedule', message: `"${schedule}" fires as often as every ${every}; this worker takes at most one snapshot every 5m (VCSNAP_MIN_SCHEDULE_INTERVAL)` },
      ]);
    }
  });

  it('checks the legacy form the same way', () => {
    const yaml = 'external:\n  platform:\n    autoSnapshot:\n      enabled: true\n      schedule: "@every 1s"\n      storage: {type: container, container: {path: /s}}\n';
    assert.equal(errorsOf(parsePolicy(yaml, CLUSTER))[0].path, 'external.platform.autoSnapshot.schedule');
  });
});

describe('limits: volume concurrency', () => {
  it(`allows up to ${POLICY_LIMITS.maxVolumeConcurrency} and refuses 100000 at volumes.concurrency`, () => {
    const volumes = (concurrency: number) => withExtra(`volumes:\n  enabled: true\n  concurrency: ${concurrency}`);
    const allowed = parsePolicy(volumes(50), CLUSTER);
    assert.ok(allowed.ok && allowed.policy);
    assert.equal(allowed.policy.volumes.concurrency, 50);
    assert.deepEqual(errorsOf(parsePolicy(volumes(100_000), CLUSTER)), [
      { path: 'snapshots.auto.volumes.concurrency', message: "must be at most 50 (this worker's maximum, VCSNAP_MAX_VOLUME_CONCURRENCY)" },
    ]);
  });

  it("follows the worker's maximum, and gives it as the default when it is below the product's default", () => {
    const limits = { maxVolumeConcurrency: 4 };
    assert.equal(errorsOf(parsePolicy(withExtra('volumes:\n  concurrency: 5'), CLUSTER, { limits }))[0].message, "must be at most 4 (this worker's maximum, VCSNAP_MAX_VOLUME_CONCURRENCY)");
    const defaulted = parsePolicy(withExtra('volumes:\n  enabled: true'), CLUSTER, { limits });
    assert.ok(defaulted.ok && defaulted.policy);
    assert.equal(defaulted.policy.volumes.concurrency, 4);
  });
});

describe('limits: worker settings', () => {
  it('defaults to a minute and 50', () => {
    assert.deepEqual(loadPolicyLimits({}), { minScheduleIntervalSeconds: 60, maxVolumeConcurrency: 50, objectLockModes: ['GOVERNANCE'] });
  });

  it('reads VCSNAP_MIN_SCHEDULE_INTERVAL and VCSNAP_MAX_VOLUME_CONCURRENCY', () => {
    assert.deepEqual(loadPolicyLimits({ VCSNAP_MIN_SCHEDULE_INTERVAL: '5m', VCSNAP_MAX_VOLUME_CONCURRENCY: '8' }), { minScheduleIntervalSeconds: 300, maxVolumeConcurrency: 8, objectLockModes: ['GOVERNANCE'] });
  });

  it('reads VCSNAP_OBJECT_LOCK_MODES (any case, or none) and refuses anything else, naming the variable', () => {
    assert.deepEqual(loadPolicyLimits({ VCSNAP_OBJECT_LOCK_MODES: 'governance, COMPLIANCE' }).objectLockModes, ['GOVERNANCE', 'COMPLIANCE']);
    assert.deepEqual(loadPolicyLimits({ VCSNAP_OBJECT_LOCK_MODES: 'none' }).objectLockModes, []);
    for (const raw of ['legal-hold', 'GOVERNANCE,forever']) assert.throws(() => loadPolicyLimits({ VCSNAP_OBJECT_LOCK_MODES: raw }), /^Error: VCSNAP_OBJECT_LOCK_MODES: /);
  });

  it('refuses settings that are not a duration of at least 1s or a positive integer, naming the variable', () => {
    for (const raw of ['5 minutes', '500ms', '-1m']) assert.throws(() => loadPolicyLimits({ VCSNAP_MIN_SCHEDULE_INTERVAL: raw }), /^Error: VCSNAP_MIN_SCHEDULE_INTERVAL: /);
    for (const raw of ['0', '-3', 'many', '2.5']) assert.throws(() => loadPolicyLimits({ VCSNAP_MAX_VOLUME_CONCURRENCY: raw }), /^Error: VCSNAP_MAX_VOLUME_CONCURRENCY: /);
  });
});

describe('objectLock and copy: tenant-written fields', () => {
  const cluster = { name: 'demo', namespace: 'team-a' };
  const parse = (block: Record<string, unknown>, limits?: Partial<PolicyLimits>) =>
    parsePolicyValues({ snapshots: { auto: { schedule: '@daily', storage: { s3: { url: 's3://bucket-1/snap' } }, ...block } } }, cluster, { limits });
  const errorsOf = (result: ReturnType<typeof parse>) => (result.ok ? [] : result.errors.map((e) => `${e.path}: ${e.message}`));

  it('takes GOVERNANCE in any case, and off', () => {
    const locked = parse({ objectLock: 'governance' });
    assert.ok(locked.ok && locked.policy?.objectLock === 'GOVERNANCE');
    const off = parse({ objectLock: 'off' });
    assert.ok(off.ok && off.policy && off.policy.objectLock === undefined);
  });

  it('refuses COMPLIANCE unless the worker allows it (nobody can lift it), and any other mode', () => {
    assert.deepEqual(errorsOf(parse({ objectLock: 'COMPLIANCE' })), ['snapshots.auto.objectLock: COMPLIANCE is not allowed by this worker (VCSNAP_OBJECT_LOCK_MODES: it allows GOVERNANCE)']);
    const allowed = parse({ objectLock: 'compliance' }, { objectLockModes: ['GOVERNANCE', 'COMPLIANCE'] });
    assert.ok(allowed.ok && allowed.policy?.objectLock === 'COMPLIANCE');
    assert.deepEqual(errorsOf(parse({ objectLock: 'GOVERNANCE' }, { objectLockModes: [] })), ['snapshots.auto.objectLock: GOVERNANCE is not allowed by this worker (VCSNAP_OBJECT_LOCK_MODES: it allows none)']);
    assert.deepEqual(errorsOf(parse({ objectLock: 'forever' })), ['snapshots.auto.objectLock: must be GOVERNANCE, COMPLIANCE or off, got "forever"']);
    assert.deepEqual(errorsOf(parse({ objectLock: 7 })), ['snapshots.auto.objectLock: expected a string, got a number']);
  });

  it('refuses objectLock on storage that is not S3', () => {
    const result = parsePolicyValues({ snapshots: { auto: { schedule: '@daily', storage: { container: { path: '/snapshots' } }, objectLock: 'GOVERNANCE' } } }, cluster);
    assert.deepEqual(errorsOf(result), ['snapshots.auto.objectLock: Object Lock is an S3 feature; storage.type is container']);
  });

  it('takes a copy location of any backend, checked like storage, at its own path', () => {
    const s3 = parse({ copy: { s3: { url: 's3://bucket-2/offsite', credential: { secretName: 'offsite' } } } });
    assert.ok(s3.ok);
    assert.deepEqual(s3.policy?.copy, { type: 's3', bucket: 'bucket-2', prefix: 'offsite', forcePathStyle: false, insecureSkipTlsVerify: false, skipClientCredentials: false, credential: { name: 'offsite', namespace: 'team-a' } });
    const oci = parse({ copy: { oci: { repository: 'oci://registry.example/team/copies' } } });
    assert.ok(oci.ok && oci.policy?.copy?.type === 'oci');
    assert.deepEqual(errorsOf(parse({ copy: { s3: { url: 'http://bucket-2' } } })).length, 1);
    assert.match(errorsOf(parse({ copy: { s3: { url: 'http://bucket-2' } } }))[0]!, /^snapshots\.auto\.copy\.s3\.url: /);
    assert.deepEqual(errorsOf(parse({ copy: { s3: { url: 's3://bucket-2/x' }, notAField: 1 } })), ['snapshots.auto.copy.notAField: unknown field (this block takes type, s3, oci, container, azure)']);
  });

  it('refuses a copy onto the primary location, and inline credentials in the copy (they would be the primary\'s)', () => {
    assert.deepEqual(errorsOf(parse({ copy: { s3: { url: 's3://bucket-1/snap' } } })), [
      'snapshots.auto.copy: names the same location as storage: a copy must go somewhere else (another bucket, prefix, registry or directory)',
    ]);
    const inline = parse({ copy: { s3: { url: 's3://bucket-2/x?access-key-id=QUtJQQ==&secret-access-key=c2VjcmV0' } } });
    assert.deepEqual(errorsOf(inline), ['snapshots.auto.copy.s3: inline credentials are not supported for the copy location: reference a Secret (credential)']);
    assert.ok(!JSON.stringify(errorsOf(inline)).includes('c2VjcmV0'));
  });
});
