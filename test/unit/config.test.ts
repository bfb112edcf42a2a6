import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  checkSchedule,
  checkTimezone,
  formatErrors,
  loadPolicyOrThrow,
  parseGoDuration,
  parsePolicy,
  parsePolicyValues,
  PolicyValidationError,
  type PolicyParseResult,
} from '../../lib/policy';
import type { SnapshotPolicy, StateSource } from '../../contracts/definitions';

const CLUSTER = { name: 'demo', namespace: 'team-a' };
const FIXTURES = path.join(__dirname, '..', 'fixtures', 'vcluster-yaml');

function fixture(file: string): string {
  return readFileSync(path.join(FIXTURES, file), 'utf8');
}

function sqlite(blockPath: string): StateSource {
  return {
    endpoints: [],
    origin: 'none',
    unavailableReason:
      'vCluster team-a/demo uses the embedded SQLite store, which is reachable only inside the vCluster pod; ' +
      `set ${blockPath}.etcd.endpoints (and etcd.tlsSecret) to an etcd v3 endpoint the worker can reach (e.g. kine exposed over TCP)`,
  };
}

const LEGACY_SQLITE = sqlite('external.platform.autoSnapshot');
const CURRENT_SQLITE = sqlite('snapshots.auto');

const S3_DEFAULTS = { type: 's3', forcePathStyle: false, insecureSkipTlsVerify: false, skipClientCredentials: false } as const;

function policy(fields: Pick<SnapshotPolicy, 'schedule' | 'storage' | 'state'> & Partial<SnapshotPolicy>): SnapshotPolicy {
  return {
    cluster: CLUSTER,
    timezone: 'UTC',
    retention: { periodDays: 30, maxSnapshots: 30 },
    volumes: { enabled: false, concurrency: 10 },
    overlap: 'SKIP',
    catchupWindowSeconds: 3600,
    ...fields,
  };
}

const FIXTURE_CASES: ReadonlyArray<{ file: string; expected: PolicyParseResult }> = [
  {
    file: 'seed-legacy-s3-schedule-retention.yaml',
    expected: {
      ok: true,
      policy: policy({
        schedule: '0 */12 * * *',
        timezone: 'America/New_York',
        retention: { periodDays: 30, maxSnapshots: 14 },
        storage: { ...S3_DEFAULTS, bucket: 'my-bucket', prefix: 'path' },
        volumes: { enabled: true, concurrency: 10 },
        state: LEGACY_SQLITE,
      }),
    },
  },
  {
    file: 'seed-legacy-s3-pod-identity.yaml',
    expected: {
      ok: true,
      policy: policy({ schedule: '0 */12 * * *', storage: { ...S3_DEFAULTS, bucket: 'my-bucket', prefix: 'snapshots' }, state: LEGACY_SQLITE }),
    },
  },
  {
    file: 'seed-legacy-s3-secret.yaml',
    expected: {
      ok: true,
      policy: policy({
        schedule: '0 */12 * * *',
        storage: { ...S3_DEFAULTS, bucket: 'my-bucket', prefix: 'snapshots', credential: { name: 'aws-cred', namespace: 'p-default' } },
        state: LEGACY_SQLITE,
      }),
    },
  },
  {
    file: 'seed-legacy-oci-secret.yaml',
    expected: {
      ok: true,
      policy: policy({
        schedule: '0 */12 * * *',
        storage: { type: 'oci', registry: 'my-registry', repository: 'snapshots', credential: { name: 'oci-cred', namespace: 'p-default' } },
        state: LEGACY_SQLITE,
      }),
    },
  },
  {
    file: 'seed-legacy-oci-inline.yaml',
    expected: {
      ok: true,
      policy: policy({
        schedule: '0 */12 * * *',
        storage: { type: 'oci', registry: 'my-registry', repository: 'snapshots', inlineCredential: true },
        state: LEGACY_SQLITE,
      }),
    },
  },
  {
    file: 'current-s3-minio-deployed-etcd.yaml',
    expected: {
      ok: true,
      policy: policy({
        schedule: '@every 6h',
        timezone: 'Europe/Berlin',
        retention: { periodDays: 7, maxSnapshots: 30 },
        storage: {
          ...S3_DEFAULTS,
          bucket: 'backups',
          prefix: 'team-a/demo',
          region: 'us-east-1',
          forcePathStyle: true,
          endpoint: 'http://minio.storage:9000',
          checksumAlgorithm: 'SHA256',
          tagging: 'team=a',
          credential: { name: 'minio-cred', namespace: 'team-a' },
        },
        state: {
          endpoints: ['https://demo-etcd.team-a:2379'],
          tlsSecret: { name: 'demo-certs', namespace: 'team-a' },
          origin: 'deployed-etcd',
        },
      }),
    },
  },
  {
    file: 'current-oci-inline-insecure.yaml',
    expected: {
      ok: true,
      policy: policy({
        schedule: '30 2 * * MON-FRI',
        storage: { type: 'oci', registry: '127.0.0.1:5000', repository: 'vcsnap/demo', insecure: true, inlineCredential: true },
        volumes: { enabled: true, concurrency: 10 },
        state: CURRENT_SQLITE,
      }),
    },
  },
  {
    file: 'current-container-explicit-etcd.yaml',
    expected: {
      ok: true,
      policy: policy({
        schedule: '@daily',
        retention: { periodDays: 14, maxSnapshots: 5 },
        storage: { type: 'container', path: '/var/lib/vcsnap/snapshots' },
        volumes: { enabled: true, concurrency: 4 },
        overlap: 'BUFFER_ONE',
        catchupWindowSeconds: 5400,
        state: {
          endpoints: ['http://demo-kine.team-a:2379'],
          tlsSecret: { name: 'demo-kine-tls', namespace: 'team-a' },
          origin: 'explicit',
        },
      }),
    },
  },
  {
    file: 'current-external-etcd.yaml',
    expected: {
      ok: true,
      policy: policy({
        schedule: '0 0 1 JAN,JUL *',
        storage: { ...S3_DEFAULTS, bucket: 'my-bucket', prefix: '' },
        state: { endpoints: ['https://etcd.databases:2379'], origin: 'external-etcd' },
      }),
    },
  },
  { file: 'legacy-disabled.yaml', expected: { ok: true, policy: null, reason: 'disabled' } },
  { file: 'absent.yaml', expected: { ok: true, policy: null, reason: 'absent' } },
];

describe('config: vcluster.yaml fixtures', () => {
  for (const { file, expected } of FIXTURE_CASES) {
    it(file, () => {
      assert.deepEqual(parsePolicy(fixture(file), CLUSTER), expected);
    });
  }
});

/** `snapshots.auto` with the given body. */
function current(body: string): string {
  return `snapshots:\n  auto:\n${body.replace(/^/gm, '    ')}\n`;
}

function legacy(body: string): string {
  return `external:\n  platform:\n    autoSnapshot:\n${body.replace(/^/gm, '      ')}\n`;
}

function withSchedule(schedule: string): string {
  return current(`schedule: ${JSON.stringify(schedule)}\nstorage:\n  container:\n    path: /snapshots`);
}

function withStorage(storage: string, extra = ''): string {
  return current(`schedule: "@daily"\nstorage:\n${storage.replace(/^/gm, '  ')}${extra ? `\n${extra}` : ''}`);
}

function withS3Url(url: string): string {
  return withStorage(`type: s3\ns3:\n  url: "${url}"`);
}

function withOci(oci: string): string {
  return withStorage(`oci:\n${oci.replace(/^/gm, '  ')}`);
}

function withExtra(extra: string): string {
  return withStorage('container:\n  path: /snapshots', extra);
}

const CRON = (expression: string, reason: string) => `snapshots.auto.schedule: invalid cron expression "${expression}" (${reason})`;
const S3_URL = 'snapshots.auto.storage.s3.url';
const OCI_REPOSITORY = 'snapshots.auto.storage.oci.repository';
const SUPPORTED_S3_OPTIONS =
  'region, force-path-style, insecure-skip-tls-verify, skip-client-credentials, checksum-algorithm, url, access-key-id, ' +
  'secret-access-key, session-token, kms-key-id, server-side-encryption, tagging';

const INVALID_CASES: ReadonlyArray<{ name: string; yaml: string; errors: string[] }> = [
  {
    name: 'legacy form enabled without a schedule',
    yaml: legacy('enabled: true\nstorage:\n  type: s3\n  s3:\n    url: s3://my-bucket'),
    errors: ['external.platform.autoSnapshot.schedule: required (a 5-field cron expression or a descriptor such as @daily or @every 6h)'],
  },
  {
    name: 'cron with four fields',
    yaml: withSchedule('0 */12 * *'),
    errors: [CRON('0 */12 * *', 'expected 5 fields: minute hour day-of-month month day-of-week; got 4')],
  },
  {
    name: 'cron with a seconds field',
    yaml: withSchedule('0 0 */12 * * *'),
    errors: [CRON('0 0 */12 * * *', 'expected 5 fields: minute hour day-of-month month day-of-week; got 6: a seconds field is not supported')],
  },
  { name: 'minute out of range', yaml: withSchedule('61 * * * *'), errors: [CRON('61 * * * *', 'minute: 61 is out of range 0-59')] },
  {
    name: 'every field out of range, all reported',
    yaml: withSchedule('60 24 0 13 8'),
    errors: [
      CRON(
        '60 24 0 13 8',
        'minute: 60 is out of range 0-59; hour: 24 is out of range 0-23; day-of-month: 0 is out of range 1-31; ' +
          'month: 13 is out of range 1-12; day-of-week: 8 is out of range 0-7',
      ),
    ],
  },
  { name: 'unknown month name', yaml: withSchedule('0 0 1 FOO *'), errors: [CRON('0 0 1 FOO *', 'month: invalid value "FOO"')] },
  { name: 'step of zero', yaml: withSchedule('*/0 * * * *'), errors: [CRON('*/0 * * * *', 'minute: step must be a positive integer in "*/0"')] },
  { name: 'reversed range', yaml: withSchedule('0 5-2 * * *'), errors: [CRON('0 5-2 * * *', 'hour: range "5-2" ends before it starts')] },
  { name: 'question mark', yaml: withSchedule('0 0 ? * *'), errors: [CRON('0 0 ? * *', 'day-of-month: "?" is not supported; use "*"')] },
  { name: 'last day of month', yaml: withSchedule('0 0 L * *'), errors: [CRON('0 0 L * *', 'day-of-month: "L" (last day) is not supported')] },
  {
    name: 'nth weekday',
    yaml: withSchedule('0 0 * * MON#1'),
    errors: [CRON('0 0 * * MON#1', 'day-of-week: "MON#1": "#" (nth weekday) is not supported')],
  },
  {
    name: 'unknown descriptor',
    yaml: withSchedule('@fortnightly'),
    errors: [CRON('@fortnightly', 'unknown descriptor "@fortnightly"; use @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or @every <duration>')],
  },
  {
    name: '@every with English words',
    yaml: withSchedule('@every 6 hours'),
    errors: [CRON('@every 6 hours', '@every needs a Go duration such as 6h, 90m or 1h30m, got "6 hours"')],
  },
  { name: '@every zero', yaml: withSchedule('@every 0s'), errors: [CRON('@every 0s', '@every duration must be at least 1s')] },
  { name: '@every below a second', yaml: withSchedule('@every 500ms'), errors: [CRON('@every 500ms', '@every duration must be at least 1s')] },
  {
    name: 'time zone prefix in the cron string',
    yaml: withSchedule('CRON_TZ=UTC 0 0 * * *'),
    errors: [CRON('CRON_TZ=UTC 0 0 * * *', 'a TZ= or CRON_TZ= prefix is not supported; set the timezone field instead')],
  },
  {
    name: 'day-of-month and day-of-week both restricted',
    yaml: withSchedule('0 0 1 * MON'),
    errors: [
      CRON('0 0 1 * MON', 'day-of-month and day-of-week are both restricted (cron runs when either matches, Temporal only when both match); set one of them to *'),
    ],
  },
  {
    name: 'never fires',
    yaml: withSchedule('0 0 30,31 2 *'),
    errors: [CRON('0 0 30,31 2 *', 'never fires: none of the selected months has the selected day of month')],
  },
  {
    name: 'schedule is a number',
    yaml: current('schedule: 5\nstorage:\n  container:\n    path: /snapshots'),
    errors: ['snapshots.auto.schedule: expected a string, got a number'],
  },
  {
    name: 'unknown time zone',
    yaml: withExtra('timezone: Mars/Olympus'),
    errors: ['snapshots.auto.timezone: unknown IANA time zone "Mars/Olympus" (e.g. UTC, Europe/Berlin, America/New_York)'],
  },
  {
    name: 'time zone in the wrong case',
    yaml: withExtra('timezone: america/new_york'),
    errors: ['snapshots.auto.timezone: time zone names are case-sensitive, got "america/new_york"; did you mean "America/New_York"?'],
  },
  {
    name: 'retention zero and a quoted number',
    yaml: withExtra('retention:\n  period: 0\n  maxSnapshots: "30"'),
    errors: [
      'snapshots.auto.retention.period: must be an integer greater than 0, got 0',
      'snapshots.auto.retention.maxSnapshots: must be an integer greater than 0, got "30"',
    ],
  },
  {
    name: 'retention period fractional',
    yaml: withExtra('retention:\n  period: 1.5'),
    errors: ['snapshots.auto.retention.period: must be an integer greater than 0, got 1.5'],
  },
  {
    name: 'retention period beyond a century',
    yaml: withExtra('retention:\n  period: 36501'),
    errors: ['snapshots.auto.retention.period: must be at most 36500 days'],
  },
  {
    name: 'no storage',
    yaml: current('schedule: "@daily"'),
    errors: ['snapshots.auto.storage: required (storage.type s3, oci, container or azure, and its settings)'],
  },
  {
    name: 'unknown storage type',
    yaml: withStorage('type: gcs'),
    errors: ['snapshots.auto.storage.type: must be one of s3, oci, container, azure, got "gcs"'],
  },
  {
    name: 'no type and only empty backends',
    yaml: withStorage('s3:\n  url: ""\noci:\n  repository: ""'),
    errors: ['snapshots.auto.storage.type: required (s3, oci, container, azure); no storage backend is configured'],
  },
  {
    name: 'no type and two backends',
    yaml: withStorage('s3:\n  url: s3://my-bucket\noci:\n  repository: ghcr.io/team/backups'),
    errors: ['snapshots.auto.storage.type: required when more than one backend is configured (found s3, oci)'],
  },
  {
    name: 'type s3 without its block',
    yaml: withStorage('type: s3\noci:\n  repository: ghcr.io/team/backups'),
    errors: ['snapshots.auto.storage.s3.url: required'],
  },
  {
    name: 'S3 URL with another scheme',
    yaml: withS3Url('https://my-bucket.s3.amazonaws.com/x'),
    errors: [`${S3_URL}: must be an s3://bucket/prefix URL, got scheme "https"`],
  },
  {
    name: 'S3 URL with an unknown query option',
    yaml: withS3Url('s3://my-bucket/x?region=eu-west-1&unexpected-option=true'),
    errors: [`${S3_URL}: query option "unexpected-option" is unknown (supported: ${SUPPORTED_S3_OPTIONS})`],
  },
  {
    name: 'S3 URL with a pod-local option vCluster knows',
    yaml: withS3Url('s3://my-bucket/x?profile=default'),
    errors: [`${S3_URL}: query option "profile" is not supported (supported: ${SUPPORTED_S3_OPTIONS})`],
  },
  {
    name: 'S3 URL with bad base64 secrets, every problem listed',
    yaml: withS3Url('s3://my-bucket/x?secret-access-key=bm90IGJhc2U2NA&tagging=a=b&session-token=dG9rZW4='),
    errors: [
      `${S3_URL}: query option "secret-access-key" is not valid base64`,
      `${S3_URL}: query option "tagging" is not valid base64`,
    ],
  },
  {
    name: 'S3 URL with a secret key but no key id',
    yaml: withS3Url('s3://my-bucket/x?secret-access-key=c2VjcmV0'),
    errors: [`${S3_URL}: query options "access-key-id" and "secret-access-key" must be given together`],
  },
  {
    name: 'S3 URL with a non-boolean flag',
    yaml: withS3Url('s3://my-bucket/x?force-path-style=yes'),
    errors: [`${S3_URL}: query option "force-path-style" must be true or false, got "yes"`],
  },
  {
    name: 'S3 URL with the page placeholder left in',
    yaml: withS3Url('s3://<bucket-name>/<path>'),
    errors: [`${S3_URL}: invalid bucket name "<bucket-name>" (3-63 lowercase letters, digits, dots or hyphens, starting and ending with a letter or digit)`],
  },
  {
    name: 'S3 URL with an unknown checksum algorithm',
    yaml: withS3Url('s3://my-bucket?checksum-algorithm=MD5'),
    errors: [`${S3_URL}: query option "checksum-algorithm" must be one of CRC32, CRC32C, SHA1, SHA256, CRC64NVME, got "MD5"`],
  },
  {
    name: 'S3 endpoint that is not an http URL',
    yaml: withS3Url('s3://my-bucket?url=bWluaW86OTAwMA=='),
    errors: [`${S3_URL}: query option "url" must decode to an http:// or https:// endpoint URL`],
  },
  {
    name: 'S3 URL with a repeated and an empty option',
    yaml: withS3Url('s3://my-bucket?region=a&region=b&kms-key-id='),
    errors: [`${S3_URL}: query option "region" is given more than once`, `${S3_URL}: query option "kms-key-id" has an empty value`],
  },
  {
    name: 'S3 URL naming an endpoint instead of a bucket',
    yaml: withS3Url('s3://minio:9000/bucket'),
    errors: [`${S3_URL}: the bucket must not have a port; give a custom endpoint with the base64 "url" option`],
  },
  {
    name: 'OCI repository with a tag',
    yaml: withOci('repository: oci://ghcr.io/team/backups:latest'),
    errors: [`${OCI_REPOSITORY}: must not contain a tag (":latest"); vcsnap tags each snapshot with its name`],
  },
  {
    name: 'OCI repository with a digest',
    yaml: withOci('repository: oci://ghcr.io/team/backups@sha256:0123'),
    errors: [`${OCI_REPOSITORY}: must not contain a digest; vcsnap tags each snapshot with its name`],
  },
  {
    name: 'OCI repository with another scheme',
    yaml: withOci('repository: https://ghcr.io/team/backups'),
    errors: [`${OCI_REPOSITORY}: must be oci://registry/repository, got scheme "https"`],
  },
  {
    name: 'OCI registry without a repository',
    yaml: withOci('repository: oci://ghcr.io'),
    errors: [`${OCI_REPOSITORY}: missing repository path (expected oci://registry/repository)`],
  },
  {
    name: 'OCI repository in upper case',
    yaml: withOci('repository: ghcr.io/Team/Backups'),
    errors: [`${OCI_REPOSITORY}: invalid repository path "Team/Backups" (lowercase letters and digits separated by ".", "_", "__", "-" or "/")`],
  },
  {
    name: 'OCI repository query options',
    yaml: withOci('repository: ghcr.io/team/backups?insecure=maybe&plain-http=true'),
    errors: [
      `${OCI_REPOSITORY}: query option "insecure" must be true or false, got "maybe"`,
      `${OCI_REPOSITORY}: query option "plain-http" is unknown (supported: insecure)`,
    ],
  },
  {
    name: 'OCI credentials in the repository URL',
    yaml: withOci('repository: oci://me:s3cr3t-value@ghcr.io/team/backups'),
    errors: [`${OCI_REPOSITORY}: must not carry credentials; use storage.oci.credential`],
  },
  {
    name: 'OCI Secret reference and inline password together',
    yaml: withOci('repository: ghcr.io/team/backups\ncredential:\n  secretName: oci-cred\n  username: me\n  password: s3cr3t-value'),
    errors: ['snapshots.auto.storage.oci.credential: set either a Secret reference (secretName/secretNamespace) or username/password, not both'],
  },
  {
    name: 'OCI username without a password',
    yaml: withOci('repository: ghcr.io/team/backups\nusername: me'),
    errors: ['snapshots.auto.storage.oci.password: required when a username is given'],
  },
  {
    name: 'OCI empty credential',
    yaml: withOci('repository: ghcr.io/team/backups\ncredential: {}'),
    errors: ['snapshots.auto.storage.oci.credential: must name a Secret (secretName/secretNamespace) or give username and password'],
  },
  {
    name: 'OCI numeric password (not echoed)',
    yaml: withOci('repository: ghcr.io/team/backups\ncredential:\n  username: me\n  password: 123456'),
    errors: ['snapshots.auto.storage.oci.credential.password: expected a string, got a number'],
  },
  {
    name: 'credential aliases that disagree',
    yaml: withStorage('s3:\n  url: s3://my-bucket\n  credential:\n    secretName: aws-cred\n    name: other-cred'),
    errors: ['snapshots.auto.storage.s3.credential.name: conflicts with secretName ("other-cred" vs "aws-cred"); set only one of them'],
  },
  {
    name: 'credential with invalid names',
    yaml: withStorage('s3:\n  url: s3://my-bucket\n  credential:\n    secretName: My_Secret\n    secretNamespace: Team-A'),
    errors: [
      'snapshots.auto.storage.s3.credential.secretName: must be a valid Secret name (lowercase letters, digits, "-" and "."), got "My_Secret"',
      'snapshots.auto.storage.s3.credential.secretNamespace: must be a valid namespace name (lowercase letters, digits and "-"), got "Team-A"',
    ],
  },
  {
    name: 'credential without a name',
    yaml: withStorage('s3:\n  url: s3://my-bucket\n  credential:\n    secretNamespace: p-default'),
    errors: ['snapshots.auto.storage.s3.credential.secretName: required (the name of the Secret; `name` is accepted too)'],
  },
  {
    name: 'credential given as a string',
    yaml: withStorage('s3:\n  url: s3://my-bucket\n  credential: aws-cred'),
    errors: ['snapshots.auto.storage.s3.credential: expected a mapping, got a string'],
  },
  {
    name: 'container path relative',
    yaml: withStorage('type: container\ncontainer:\n  path: snapshots'),
    errors: ['snapshots.auto.storage.container.path: must be an absolute path, got "snapshots"'],
  },
  {
    name: 'volumes with a quoted boolean and zero concurrency',
    yaml: withExtra('volumes:\n  enabled: "true"\n  concurrency: 0'),
    errors: [
      'snapshots.auto.volumes.enabled: expected true or false, got a string',
      'snapshots.auto.volumes.concurrency: must be an integer greater than 0, got 0',
    ],
  },
  {
    name: 'unknown overlap policy',
    yaml: withExtra('overlap: NEVER'),
    errors: ['snapshots.auto.overlap: must be one of SKIP, BUFFER_ONE, BUFFER_ALL, CANCEL_OTHER, TERMINATE_OTHER, ALLOW_ALL, got "NEVER"'],
  },
  {
    name: 'catch-up window below the minimum',
    yaml: withExtra('catchupWindow: 5s'),
    errors: ["snapshots.auto.catchupWindow: must be at least 10s (Temporal's minimum catch-up window)"],
  },
  {
    name: 'catch-up window not a duration',
    yaml: withExtra('catchupWindow: soon'),
    errors: ['snapshots.auto.catchupWindow: invalid duration "soon" (use Go syntax such as 10m, 1h or 1h30m)'],
  },
  {
    name: 'catch-up window as a bare number',
    yaml: withExtra('catchupWindow: 3600'),
    errors: ['snapshots.auto.catchupWindow: expected a duration string such as "1h", got a number'],
  },
  {
    name: 'catch-up window with a fraction of a second',
    yaml: withExtra('catchupWindow: 10500ms'),
    errors: ['snapshots.auto.catchupWindow: must be a whole number of seconds, got "10500ms"'],
  },
  {
    name: 'explicit etcd endpoint without a scheme',
    yaml: withExtra('etcd:\n  endpoints:\n    - demo-etcd:2379\n    - https://demo-etcd:2379'),
    errors: ['snapshots.auto.etcd.endpoints[0]: must be an http:// or https:// URL such as https://demo-etcd.team-a:2379, got "demo-etcd:2379"'],
  },
  {
    name: 'explicit etcd with no endpoints',
    yaml: withExtra('etcd:\n  endpoints: []'),
    errors: ['snapshots.auto.etcd.endpoints: must list at least one endpoint'],
  },
  {
    name: 'explicit etcd with only a TLS Secret',
    yaml: withExtra('etcd:\n  tlsSecret:\n    name: demo-certs'),
    errors: ['snapshots.auto.etcd.endpoints: required'],
  },
  {
    name: 'enabled: false in the current form',
    yaml: withExtra('enabled: false'),
    errors: [
      'snapshots.auto.enabled: not part of snapshots.auto, where the block being present means on; remove snapshots.auto to turn auto snapshots off',
    ],
  },
  {
    name: 'both forms switched on',
    yaml: legacy('enabled: true') + withExtra(''),
    errors: ['external.platform.autoSnapshot.enabled: conflicts with snapshots.auto; keep only snapshots.auto (the current form)'],
  },
  {
    name: 'legacy enabled as a quoted string',
    yaml: legacy('enabled: "yes"\nschedule: "@daily"\nstorage:\n  container:\n    path: /snapshots'),
    errors: ['external.platform.autoSnapshot.enabled: expected true or false, got a string'],
  },
  {
    name: 'legacy block as a string',
    yaml: 'external:\n  platform:\n    autoSnapshot: daily\n',
    errors: ['external.platform.autoSnapshot: expected a mapping, got a string'],
  },
  {
    name: 'snapshots: on (a YAML 1.1 boolean)',
    yaml: 'snapshots: on\n',
    errors: ['snapshots: expected a mapping, got a boolean'],
  },
  { name: 'current block as a list', yaml: 'snapshots:\n  auto: [1]\n', errors: ['snapshots.auto: expected a mapping, got a list'] },
  {
    name: 'the page example pasted with its broken indentation',
    yaml:
      'external:\n  platform:\n    autoSnapshot:\n    enabled: true\n    schedule: 0 */12 * * *\n    storage:\n      type: s3\n' +
      '        s3:\n          url: s3://my-bucket/snapshots\n',
    errors: [
      'invalid YAML at line 7, column 13: Nested mappings are not allowed in compact mappings',
      'invalid YAML at line 7, column 13: Implicit keys need to be on a single line',
    ],
  },
  {
    name: 'duplicate keys',
    yaml: current('schedule: "@daily"\nschedule: "@hourly"'),
    errors: ['invalid YAML at line 4, column 5: Map keys must be unique'],
  },
  { name: 'document is a list', yaml: '- a\n- b\n', errors: ['the vcluster.yaml must be a mapping, got a list'] },
  {
    name: 'Azure blobUrl with a SAS token in the query (never echoed)',
    yaml: withStorage('azure:\n  blobUrl: "https://acct1.blob.core.windows.net/snaps/team?sv=2024-01-01&sig=c2VjcmV0LXNhcw%3D"\n  credential:\n    secretName: az'),
    errors: [
      'snapshots.auto.storage.azure.blobUrl: must not carry a query: a SAS token in the URL is not supported (it would be kept in schedules and histories); put it in the credential Secret as AZURE_STORAGE_BLOB_SAS',
    ],
  },
  {
    name: 'Azure without a credential, over http to a remote host, without a container',
    yaml: withStorage('type: azure\nazure:\n  blobUrl: "http://acct1.blob.core.windows.net"'),
    errors: [
      'snapshots.auto.storage.azure.blobUrl: must use https:// (http:// is accepted only for a loopback emulator such as Azurite)',
      'snapshots.auto.storage.azure.blobUrl: missing container (expected https://<account>.blob.core.windows.net/<container>/<directory>)',
      'snapshots.auto.storage.azure.credential: required: a Secret (secretName/secretNamespace) holding AZURE_STORAGE_KEY or AZURE_STORAGE_BLOB_SAS',
    ],
  },
  {
    name: 'Azure blobUrl naming an archive rather than a directory',
    yaml: withStorage('azure:\n  blobUrl: "https://acct1.blob.core.windows.net/snaps/demo.tar.gz"\n  credential:\n    secretName: az'),
    errors: ['snapshots.auto.storage.azure.blobUrl: must name a container and directory, not an archive: snapshots are stored as <directory>/<name>.tar.gz'],
  },
  {
    name: 'Azure in the legacy form',
    yaml: legacy('enabled: true\nschedule: "@daily"\nstorage:\n  type: azure\n  azure:\n    blobUrl: "https://acct1.blob.core.windows.net/snaps"'),
    errors: [
      'external.platform.autoSnapshot.storage.azure: not supported: external.platform.autoSnapshot has no Azure storage in vCluster (its legacy type knows s3, oci and container); use snapshots.auto for Azure Blob storage',
    ],
  },
  {
    name: 'unknown fields, each named by its path',
    yaml: current('schedule: "@daily"\nschedul: "@hourly"\nretention:\n  days: 3\nstorage:\n  s3:\n    url: s3://my-bucket\n    region: eu-west-1'),
    errors: [
      'snapshots.auto.retention.days: unknown field (this block takes period, maxSnapshots)',
      'snapshots.auto.storage.s3.region: unknown field (this block takes url, credential)',
      'snapshots.auto.schedul: unknown field (this block takes enabled, schedule, timezone, retention, storage, volumes, overlap, catchupWindow, etcd, objectLock, copy)',
    ],
  },
  {
    name: 'a sibling of snapshots.auto',
    yaml: `snapshots:\n  manual: {}\n${current('schedule: "@daily"\nstorage:\n  container:\n    path: /snapshots').replace('snapshots:\n', '')}`,
    errors: ['snapshots.manual: unknown field (snapshots takes auto)'],
  },
  {
    name: 'a container volume (vCluster mounts it into its own pod)',
    yaml: withStorage('container:\n  path: /snapshots\n  volume:\n    name: snaps\n    path: /snapshots'),
    errors: [
      'snapshots.auto.storage.container.volume: not supported: vCluster mounts that volume into its own pod; this worker stores snapshots in a directory of its own: mount the volume into the worker and set storage.container.path to its mount point',
    ],
  },
  {
    name: 'every offending field at once',
    yaml: current('schedule: "0 0 * *"\ntimezone: Nowhere/City\nretention:\n  period: 0\nstorage:\n  type: ftp\nvolumes:\n  concurrency: -1'),
    errors: [
      CRON('0 0 * *', 'expected 5 fields: minute hour day-of-month month day-of-week; got 4'),
      'snapshots.auto.timezone: unknown IANA time zone "Nowhere/City" (e.g. UTC, Europe/Berlin, America/New_York)',
      'snapshots.auto.retention.period: must be an integer greater than 0, got 0',
      'snapshots.auto.storage.type: must be one of s3, oci, container, azure, got "ftp"',
      'snapshots.auto.volumes.concurrency: must be an integer greater than 0, got -1',
    ],
  },
];

describe('config: invalid input', () => {
  it('has at least 30 cases', () => {
    assert.ok(INVALID_CASES.length >= 30, `only ${INVALID_CASES.length} invalid cases`);
  });

  for (const { name, yaml, errors } of INVALID_CASES) {
    it(name, () => {
      const result = parsePolicy(yaml, CLUSTER);
      assert.equal(result.ok, false, `expected errors, got ${JSON.stringify(result)}`);
      if (!result.ok) assert.deepEqual(formatErrors(result.errors).split('\n'), errors);
    });
  }

  it('never echoes secret values in messages', () => {
    for (const { yaml } of INVALID_CASES) {
      const result = parsePolicy(yaml, CLUSTER);
      const text = result.ok ? '' : formatErrors(result.errors);
      for (const secret of ['s3cr3t-value', '123456', 'c2VjcmV0', 'bm90IGJhc2U2NA', 'dG9rZW4=']) {
        assert.ok(!text.includes(secret), `message leaks ${secret}: ${text}`);
      }
    }
  });

  it('reports an invalid cluster reference', () => {
    const result = parsePolicy(withExtra(''), { name: 'Demo_1', namespace: '' });
    assert.equal(result.ok, false);
    if (!result.ok) {
      assert.deepEqual(formatErrors(result.errors).split('\n'), [
        'cluster.name: must be a DNS label (lowercase letters, digits and "-", at most 63), got "Demo_1"',
        'cluster.namespace: must be a DNS label (lowercase letters, digits and "-", at most 63), got ""',
      ]);
    }
  });
});

describe('config: secrets stay out of the policy', () => {
  it('keeps an inline OCI password out, with only a flag', () => {
    const result = parsePolicy(fixture('seed-legacy-oci-inline.yaml'), CLUSTER);
    assert.ok(result.ok && result.policy);
    const json = JSON.stringify(result.policy);
    assert.ok(!json.includes('my-pasword') && !json.includes('my-username'), json);
    assert.equal(result.policy.storage.type === 'oci' && result.policy.storage.inlineCredential, true);
  });

  it('keeps S3 access keys from the URL query out, with only a flag', () => {
    const keyId = Buffer.from('AKIAEXAMPLEKEYID').toString('base64');
    const secret = Buffer.from('wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY').toString('base64');
    const result = parsePolicy(withS3Url(`s3://my-bucket/x?access-key-id=${keyId}&secret-access-key=${encodeURIComponent(secret)}`), CLUSTER);
    assert.ok(result.ok && result.policy, JSON.stringify(result));
    const json = JSON.stringify(result.policy);
    for (const leaked of ['AKIAEXAMPLEKEYID', 'wJalrXUtnFEMI', keyId, secret]) assert.ok(!json.includes(leaked), json);
    assert.deepEqual(result.policy.storage, { ...S3_DEFAULTS, bucket: 'my-bucket', prefix: 'x', inlineCredentialsInUrl: true });
  });
});

describe('config: Azure Blob storage', () => {
  const azure = (blobUrl: string) => withStorage(`azure:\n  blobUrl: "${blobUrl}"\n  credential:\n    secretName: az-cred`);
  const storageOf = (yaml: string) => {
    const result = parsePolicy(yaml, CLUSTER);
    assert.ok(result.ok && result.policy, JSON.stringify(result));
    return result.policy.storage;
  };

  it("reads vCluster's blobUrl: the account from the host, the container and directory from the path", () => {
    assert.deepEqual(storageOf(azure('https://acct1.blob.core.windows.net/snapshots/team-a/demo/')), {
      type: 'azure', serviceUrl: 'https://acct1.blob.core.windows.net', accountName: 'acct1', container: 'snapshots', prefix: 'team-a/demo',
      credential: { name: 'az-cred', namespace: 'team-a' },
    });
    assert.deepEqual(storageOf(azure('https://acct1.blob.core.chinacloudapi.cn:443/snapshots')), {
      type: 'azure', serviceUrl: 'https://acct1.blob.core.chinacloudapi.cn', accountName: 'acct1', container: 'snapshots', prefix: '',
      credential: { name: 'az-cred', namespace: 'team-a' },
    });
  });

  it("takes an emulator's path-style URL on loopback, over http", () => {
    for (const [url, serviceUrl] of [
      ['http://127.0.0.1:10000/devstoreaccount1/snaps/x', 'http://127.0.0.1:10000/devstoreaccount1'],
      ['http://localhost:10000/devstoreaccount1/snaps/x', 'http://localhost:10000/devstoreaccount1'],
      ['http://[::1]:10000/devstoreaccount1/snaps/x', 'http://[::1]:10000/devstoreaccount1'],
    ]) {
      assert.deepEqual(storageOf(azure(url)), { type: 'azure', serviceUrl, accountName: 'devstoreaccount1', container: 'snaps', prefix: 'x', credential: { name: 'az-cred', namespace: 'team-a' } });
    }
  });

  it('refuses bad account and container names, other schemes and user info', () => {
    const reasons = (url: string) => {
      const result = parsePolicy(azure(url), CLUSTER);
      return result.ok ? [] : result.errors.map((e) => e.message);
    };
    assert.match(reasons('https://ab.blob.core.windows.net/snaps')[0], /invalid storage account name "ab"/);
    assert.match(reasons('https://acct1.blob.core.windows.net/Bad--Name')[0], /invalid container name "Bad--Name"/);
    assert.match(reasons('s3://acct1/snaps')[0], /got scheme "s3"/);
    assert.match(reasons('https://user:pw@acct1.blob.core.windows.net/snaps')[0], /must not carry a user name or password/);
    assert.doesNotMatch(JSON.stringify(reasons('https://user:pw@acct1.blob.core.windows.net/snaps')), /pw/);
  });
});

describe('config: forms, defaults and overrides', () => {
  it('treats a legacy block without enabled as disabled', () => {
    assert.deepEqual(parsePolicy(legacy('schedule: "@daily"'), CLUSTER), { ok: true, policy: null, reason: 'disabled' });
  });

  it('reads YAML 1.1 booleans as Helm does', () => {
    const result = parsePolicy(legacy('enabled: yes\nschedule: "@daily"\nstorage:\n  container:\n    path: /snapshots'), CLUSTER);
    assert.ok(result.ok && result.policy);
  });

  it('prefers snapshots.auto when the legacy block is switched off', () => {
    const result = parsePolicy(legacy('enabled: false') + withExtra(''), CLUSTER);
    assert.ok(result.ok && result.policy);
    assert.equal(result.policy.state.unavailableReason, CURRENT_SQLITE.unavailableReason);
  });

  it('treats an empty snapshots.auto as absent and an empty document as absent', () => {
    assert.deepEqual(parsePolicy('snapshots:\n  auto:\n', CLUSTER), { ok: true, policy: null, reason: 'absent' });
    assert.deepEqual(parsePolicy('', CLUSTER), { ok: true, policy: null, reason: 'absent' });
  });

  it('parses already-decoded values', () => {
    const result = parsePolicyValues({ snapshots: { auto: { schedule: '@hourly', storage: { container: { path: '/data' } } } } }, CLUSTER);
    assert.ok(result.ok && result.policy);
    assert.deepEqual(result.policy.storage, { type: 'container', path: '/data' });
  });

  it('applies caller defaults, an explicit state source and the chart label', () => {
    const state: StateSource = { endpoints: ['https://etcd.example:2379'], origin: 'explicit' };
    const result = parsePolicy(withExtra('etcd:\n  endpoints: http://ignored:2379'), CLUSTER, {
      defaults: { timezone: 'Europe/Paris', catchupWindowSeconds: 600, volumeConcurrency: 2, overlap: 'BUFFER_ALL' },
      state,
      chartLabel: 'vcluster-0.30.0-beta.1',
    });
    assert.ok(result.ok && result.policy);
    assert.equal(result.policy.timezone, 'Europe/Paris');
    assert.equal(result.policy.catchupWindowSeconds, 600);
    assert.deepEqual(result.policy.volumes, { enabled: false, concurrency: 2 });
    assert.equal(result.policy.overlap, 'BUFFER_ALL');
    assert.deepEqual(result.policy.state, state);
    assert.deepEqual(result.policy.release, { chartName: 'vcluster', chartVersion: '0.30.0-beta.1' });
  });

  it('accepts a single explicit endpoint string and derives an unreachable embedded etcd', () => {
    const explicit = parsePolicy(withExtra('etcd:\n  endpoints: https://kine.team-a:2379'), CLUSTER);
    assert.ok(explicit.ok && explicit.policy);
    assert.deepEqual(explicit.policy.state, { endpoints: ['https://kine.team-a:2379'], origin: 'explicit' });
    const embedded = parsePolicy(`controlPlane:\n  backingStore:\n    etcd:\n      embedded:\n        enabled: true\n${withExtra('')}`, CLUSTER);
    assert.ok(embedded.ok && embedded.policy);
    assert.equal(embedded.policy.state.origin, 'none');
    assert.match(embedded.policy.state.unavailableReason ?? '', /^vCluster team-a\/demo uses embedded etcd, which runs inside the vCluster pod; /);
  });
});

describe('config: loadPolicyOrThrow', () => {
  it('returns the policy, or null when off', () => {
    assert.equal(loadPolicyOrThrow(fixture('legacy-disabled.yaml'), CLUSTER), null);
    assert.equal(loadPolicyOrThrow(fixture('seed-legacy-s3-secret.yaml'), CLUSTER)?.schedule, '0 */12 * * *');
  });

  it('throws a PolicyValidationError that names the cluster and lists every issue', () => {
    assert.throws(
      () => loadPolicyOrThrow(withExtra('overlap: NEVER\ncatchupWindow: soon'), CLUSTER),
      (error: unknown) => {
        assert.ok(error instanceof PolicyValidationError);
        assert.equal(error.issues.length, 2);
        assert.deepEqual(error.cluster, CLUSTER);
        assert.equal(
          error.message,
          'invalid auto-snapshot configuration for vCluster team-a/demo (2 issues):\n' +
            'snapshots.auto.overlap: must be one of SKIP, BUFFER_ONE, BUFFER_ALL, CANCEL_OTHER, TERMINATE_OTHER, ALLOW_ALL, got "NEVER"\n' +
            'snapshots.auto.catchupWindow: invalid duration "soon" (use Go syntax such as 10m, 1h or 1h30m)',
        );
        return true;
      },
    );
  });
});

describe('config: cron, time zone and duration checks', () => {
  const validSchedules: ReadonlyArray<[string, string]> = [
    ['0 */12 * * *', '0 */12 * * *'],
    ['*/15 * * * *', '*/15 * * * *'],
    ['0 9-17/2 * * mon-fri', '0 9-17/2 * * mon-fri'],
    ['5,35 0-23/6 1,15 JAN-JUN *', '5,35 0-23/6 1,15 JAN-JUN *'],
    ['30 5/10 * * *', '30 5/10 * * *'],
    ['0 0 * * 7', '0 0 * * 7'],
    ['0 0 */2 * MON', '0 0 */2 * MON'],
    ['0 0 29 2 *', '0 0 29 2 *'],
    ['  0   0  * * *  ', '0 0 * * *'],
    ['@yearly', '@yearly'],
    ['@annually', '@annually'],
    ['@monthly', '@monthly'],
    ['@weekly', '@weekly'],
    ['@daily', '@daily'],
    ['@midnight', '@midnight'],
    ['@hourly', '@hourly'],
    ['@every 6h', '@every 6h'],
    ['@every 90m', '@every 90m'],
    ['@every 1h30m', '@every 1h30m'],
  ];
  for (const [input, schedule] of validSchedules) {
    it(`accepts ${JSON.stringify(input)}`, () => assert.deepEqual(checkSchedule(input), { ok: true, schedule }));
  }

  for (const name of ['UTC', 'Etc/UTC', 'America/New_York', 'US/Eastern', 'Asia/Kolkata', 'Etc/GMT+5']) {
    it(`accepts time zone ${name}`, () => assert.deepEqual(checkTimezone(name), { ok: true, timezone: name }));
  }
  for (const name of ['Local', '+05:00', 'us/eastern']) {
    it(`rejects time zone ${name}`, () => assert.equal(checkTimezone(name).ok, false));
  }

  const durations: ReadonlyArray<[string, number | undefined]> = [
    ['0', 0],
    ['6h', 21_600_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['300ms', 300],
    ['10.1s', 10_100],
    ['1h30', undefined],
    ['1d', undefined],
    ['h', undefined],
  ];
  for (const [text, milliseconds] of durations) {
    it(`parses Go duration ${JSON.stringify(text)}`, () => assert.equal(parseGoDuration(text), milliseconds));
  }
});
