// Config parity with vCluster at the pinned version: every field its chart's values.schema.json has under `snapshots`
// (and the legacy `external.platform.autoSnapshot`, whose Go type the schema no longer carries) is either supported by
// the policy parser or refused with a reason saying it is not supported, and nothing else is accepted: an unknown key
// anywhere in the block is refused at its own path. The schema is read from the vCluster install
// (scripts/install-servers.sh copies it from the Go module download, beside the binary), so moving the pin re-runs this
// against the new schema: a field vCluster adds fails here until the parser and the SAMPLES table decide on it.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { parsePolicyValues, type ConfigIssue, type PolicyParseResult } from '../../lib/policy';
import { toolPath, versions } from '../../scripts/servers/process';

interface SchemaNode {
  $ref?: string;
  type?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean;
}

const SCHEMA_FILE = toolPath('vcluster', 'VCLUSTER_VERSION', 'values.schema.json');
const CLUSTER = { name: 'demo', namespace: 'team-a' };

/** A valid sample for each field under the auto-snapshot block, by its path there: what a user would write. */
const SAMPLES: Record<string, unknown> = {
  schedule: '@hourly',
  timezone: 'Europe/Berlin',
  'retention.period': 7,
  'retention.maxSnapshots': 5,
  'storage.type': 's3',
  'storage.s3.url': 's3://bucket-2/other',
  'storage.s3.credential.secretName': 's3-cred',
  'storage.s3.credential.secretNamespace': 'creds',
  'storage.oci.repository': 'oci://registry.example/team/other',
  'storage.oci.credential.secretName': 'oci-cred',
  'storage.oci.credential.secretNamespace': 'creds',
  'storage.oci.username': 'robot',
  'storage.oci.password': 'robot-password',
  'storage.container.path': '/var/lib/other',
  'storage.container.volume.name': 'snapshots',
  'storage.container.volume.path': '/var/lib/snapshots',
  'storage.azure.blobUrl': 'https://acct2.blob.core.windows.net/other/dir',
  'storage.azure.credential.secretName': 'azure-cred',
  'storage.azure.credential.secretNamespace': 'creds',
  // Legacy only (vclusterconfig.LegacyAutoSnapshot): `enabled` and `volumes.enabled`.
  enabled: true,
  'volumes.enabled': true,
};

/** What each backend needs before one of its fields can be set on its own. */
const BACKEND_BASE: Record<string, Record<string, unknown>> = {
  s3: { url: 's3://bucket-1/snapshots' },
  oci: { repository: 'oci://registry.example/team/snapshots' },
  container: { path: '/var/lib/snapshots' },
  azure: { blobUrl: 'https://acct1.blob.core.windows.net/snapshots/team', credential: { secretName: 'azure-base' } },
};

/** vCluster fields this product refuses (as "not supported"), and the blocks they are refused at. */
const NOT_SUPPORTED = ['storage.container.volume.name', 'storage.container.volume.path'];
const NOT_SUPPORTED_BLOCKS = ['storage.container.volume'];

/** Fields that are only valid with a partner: a Secret's namespace with its name, a username with its password. */
function companions(field: string): Record<string, unknown> {
  const parent = field.split('.').slice(0, -1).join('.');
  const last = field.split('.').pop();
  const partner: Record<string, string> = { secretNamespace: 'secretName', namespace: 'name', username: 'password', password: 'username' };
  const other = last && partner[last];
  return other ? { [parent ? `${parent}.${other}` : other]: other.toLowerCase().includes('name') ? 'partner-name' : 'partner-secret' } : {};
}

/** Fields accepted beyond vCluster's schema: the product's own extensions (README "Configuration"), with a sample. */
const EXTENSIONS: Record<string, unknown> = {
  'volumes.enabled': true,
  'volumes.concurrency': 4,
  overlap: 'BUFFER_ONE',
  catchupWindow: '30m',
  'etcd.endpoints': ['https://demo-etcd.team-a:2379'],
  'etcd.tlsSecret.secretName': 'demo-certs',
  'etcd.tlsSecret.secretNamespace': 'team-a',
  'etcd.tlsSecret.name': 'demo-certs',
  'etcd.tlsSecret.namespace': 'team-a',
  'storage.s3.credential.name': 's3-cred',
  'storage.s3.credential.namespace': 'creds',
  'storage.oci.credential.name': 'oci-cred',
  'storage.oci.credential.namespace': 'creds',
  'storage.oci.credential.username': 'robot',
  'storage.oci.credential.password': 'robot-password',
  'storage.oci.insecure': true,
  'storage.azure.credential.name': 'azure-cred',
  'storage.azure.credential.namespace': 'creds',
  // Protecting backups: an S3 Object Lock on every archive and record, and a second location (any backend).
  objectLock: 'GOVERNANCE',
  'copy.s3.url': 's3://bucket-3/offsite',
  'copy.s3.credential.secretName': 'offsite-cred',
  'copy.oci.repository': 'oci://registry.example/team/copies',
  'copy.container.path': '/var/lib/copies',
};

interface Form {
  name: string;
  path: string[];
  /** The block with the least it needs, before the field under test is set. */
  base: () => Record<string, unknown>;
}

const FORMS: Form[] = [
  { name: 'snapshots.auto', path: ['snapshots', 'auto'], base: () => ({ schedule: '@daily', storage: { container: { path: '/var/lib/snapshots' } } }) },
  {
    name: 'external.platform.autoSnapshot',
    path: ['external', 'platform', 'autoSnapshot'],
    base: () => ({ enabled: true, schedule: '@daily', storage: { container: { path: '/var/lib/snapshots' } } }),
  },
];

function loadSchema(): { root: SchemaNode; resolve: (node: SchemaNode) => SchemaNode } {
  let text: string;
  try {
    text = readFileSync(SCHEMA_FILE, 'utf8');
  } catch {
    throw new Error(`vCluster's chart schema is missing at ${SCHEMA_FILE}: run scripts/install-servers.sh (npm test's pretest does)`);
  }
  const root = JSON.parse(text) as SchemaNode & { $defs: Record<string, SchemaNode> };
  const resolve = (node: SchemaNode): SchemaNode => (node.$ref ? resolve(root.$defs[node.$ref.replace('#/$defs/', '')]) : node);
  return { root, resolve };
}

/** Leaf fields and mappings under `node`, as dotted paths relative to it. */
function walk(node: SchemaNode, resolve: (node: SchemaNode) => SchemaNode, prefix = ''): { leaves: string[]; mappings: string[] } {
  const resolved = resolve(node);
  const found = { leaves: [] as string[], mappings: [prefix] };
  for (const [key, child] of Object.entries(resolved.properties ?? {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (resolve(child).properties) {
      const inner = walk(child, resolve, path);
      found.leaves.push(...inner.leaves);
      found.mappings.push(...inner.mappings);
    } else found.leaves.push(path);
  }
  return found;
}

function setIn(target: Record<string, unknown>, path: string[], value: unknown): void {
  let current = target;
  for (const key of path.slice(0, -1)) {
    if (typeof current[key] !== 'object' || current[key] === null) current[key] = {};
    current = current[key] as Record<string, unknown>;
  }
  current[path[path.length - 1]] = value;
}

/** The form's block with the field at `field` (relative to the block) set, its backend configured when it has one. */
function blockWith(form: Form, field: string, value: unknown): Record<string, unknown> {
  const block = form.base();
  const backend = /^storage\.(s3|oci|container|azure)\./.exec(field)?.[1];
  if (backend) block.storage = { [backend]: structuredClone(BACKEND_BASE[backend]) };
  if (field === 'storage.type') block.storage = { s3: structuredClone(BACKEND_BASE.s3), container: structuredClone(BACKEND_BASE.container) };
  if (field.startsWith('storage.azure.credential.')) setIn(block, ['storage', 'azure', 'credential'], {});
  if (field.startsWith('etcd.tlsSecret.')) setIn(block, ['etcd', 'endpoints'], ['https://demo-etcd.team-a:2379']);
  if (field === 'objectLock') block.storage = { s3: structuredClone(BACKEND_BASE.s3) };
  if (field.startsWith('copy.s3.credential.')) setIn(block, ['copy', 's3'], { url: 's3://bucket-3/offsite' });
  setIn(block, field.split('.'), value);
  for (const [companion, companionValue] of Object.entries(companions(field))) setIn(block, companion.split('.'), companionValue);
  return block;
}

function parse(form: Form, block: Record<string, unknown>): PolicyParseResult {
  const values: Record<string, unknown> = {};
  setIn(values, form.path, block);
  return parsePolicyValues(values, CLUSTER);
}

function errorsOf(result: PolicyParseResult): ConfigIssue[] {
  return result.ok ? [] : result.errors;
}

const { root, resolve } = loadSchema();
const snapshots = walk(root.properties!.snapshots!, resolve);
const autoFields = snapshots.leaves.filter((path) => path.startsWith('auto.')).map((path) => path.slice('auto.'.length));
const autoMappings = snapshots.mappings.filter((path) => path === 'auto' || path.startsWith('auto.')).map((path) => path.slice('auto'.length).replace(/^\./, ''));
// vCluster's legacy type (loft-sh/api vclusterconfig.LegacyAutoSnapshot, converted 1:1 into snapshots.auto by its
// convertAutoSnapshotToSnapshots) has the current fields but Azure, plus `enabled` and `volumes.enabled`.
const legacyFields = [...autoFields.filter((path) => !path.startsWith('storage.azure')), 'enabled', 'volumes.enabled'];
const legacyMappings = [...autoMappings.filter((path) => !path.startsWith('storage.azure')), 'volumes'];

describe(`config parity with vCluster ${versions().VCLUSTER_VERSION} (chart values.schema.json)`, () => {
  it('reads the schema: snapshots holds only auto, and the schema itself refuses unknown keys there', () => {
    assert.deepEqual(Object.keys(resolve(root.properties!.snapshots!).properties ?? {}), ['auto']);
    assert.equal(resolve(root.properties!.snapshots!).additionalProperties, false);
    assert.ok(autoFields.includes('storage.azure.blobUrl'), `expected storage.azure.blobUrl among ${autoFields.join(', ')}`);
    assert.ok(autoFields.length >= 19, `only ${autoFields.length} fields`);
  });

  it('has a sample for every schema field (a field vCluster adds must be decided on here)', () => {
    const missing = autoFields.filter((path) => !(path in SAMPLES));
    assert.deepEqual(missing, [], 'schema fields without a sample: support them in lib/policy or refuse them as not supported, then add a sample');
  });

  for (const form of FORMS) {
    describe(form.name, () => {
      const fields = form.name === 'snapshots.auto' ? autoFields : legacyFields;
      const mappings = form.name === 'snapshots.auto' ? autoMappings : legacyMappings;

      it('takes the base block', () => {
        assert.ok(parse(form, form.base()).ok, JSON.stringify(errorsOf(parse(form, form.base()))));
      });

      for (const field of fields) {
        const expectRefusal = NOT_SUPPORTED.includes(field);
        it(`${field}: ${expectRefusal ? 'refused as not supported' : 'supported'}`, () => {
          const result = parse(form, blockWith(form, field, SAMPLES[field]));
          if (!expectRefusal) {
            assert.deepEqual(errorsOf(result), [], `${form.name}.${field} is a vCluster field and must be taken`);
            if (field !== 'enabled') assert.notDeepEqual(result, parse(form, form.base()), 'the field changes the policy');
            return;
          }
          const errors = errorsOf(result);
          assert.ok(errors.length > 0, `${form.name}.${field} must be refused`);
          for (const issue of errors) {
            assert.ok(`${form.path.join('.')}.${field}`.startsWith(issue.path), `refused at ${issue.path}, not at the field or its block`);
            assert.match(issue.message, /not supported/);
          }
        });
      }

      for (const mapping of mappings) {
        const where = mapping === '' ? form.name : `${form.name}.${mapping}`;
        it(`refuses an unknown key in ${where}, naming its path`, () => {
          const example = fields.find((field) => mapping === '' || field.startsWith(`${mapping}.`));
          const block = example ? blockWith(form, example, SAMPLES[example]) : form.base();
          const target = mapping === '' ? block : (mapping.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], block) as Record<string, unknown>);
          target.notAField = 'x';
          const errors = errorsOf(parse(form, block));
          const unsupportedAncestor = NOT_SUPPORTED_BLOCKS.some((block) => mapping === block || mapping.startsWith(`${block}.`));
          if (unsupportedAncestor) {
            assert.deepEqual(errors.map((issue) => issue.path), [where], 'refused at the unsupported block');
          } else {
            assert.deepEqual(errors.map((issue) => issue.path), [`${where}.notAField`]);
            assert.match(errors[0].message, /^unknown field/);
          }
        });
      }

      it('takes the product extensions, and only them beyond the schema', () => {
        for (const [field, sample] of Object.entries(EXTENSIONS)) {
          if (form.name !== 'snapshots.auto' && field.startsWith('storage.azure')) continue;
          assert.ok(!fields.includes(field) || field === 'volumes.enabled', `${field} is in vCluster's schema now: drop it from EXTENSIONS`);
          assert.deepEqual(errorsOf(parse(form, blockWith(form, field, sample))), [], `${form.name}.${field}`);
        }
        for (const mapping of ['volumes', 'etcd', 'etcd.tlsSecret']) {
          const block = blockWith(form, 'etcd.tlsSecret.secretName', 'demo-certs');
          setIn(block, [...mapping.split('.'), 'notAField'], 'x');
          assert.deepEqual(errorsOf(parse(form, block)).map((issue) => issue.path), [`${form.name}.${mapping}.notAField`]);
        }
      });
    });
  }

  it('refuses Azure in the legacy form as not supported (vCluster has no Azure there)', () => {
    const legacy = FORMS[1];
    const errors = errorsOf(parse(legacy, blockWith(legacy, 'storage.azure.blobUrl', SAMPLES['storage.azure.blobUrl'])));
    assert.deepEqual(errors.map((issue) => issue.path), ['external.platform.autoSnapshot.storage.azure']);
    assert.match(errors[0].message, /^not supported/);
  });

  it('refuses a sibling of snapshots.auto', () => {
    const errors = errorsOf(parsePolicyValues({ snapshots: { auto: FORMS[0].base(), manual: { schedule: '@daily' } } }, CLUSTER));
    assert.deepEqual(errors.map((issue) => issue.path), ['snapshots.manual']);
  });
});
