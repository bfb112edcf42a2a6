// Deterministic generator of bad (and some good) vcluster.yaml inputs: mutations of the valid fixtures in
// test/fixtures/vcluster-yaml/ driven by a seeded PRNG, so every run sees the same 200 inputs.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';

export const FIXTURE_DIR = join(__dirname, '..', '..', 'fixtures', 'vcluster-yaml');

/** mulberry32: small, fast, and the same sequence on every platform. */
export function prng(seed: number) {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)],
    chance: (p: number) => next() < p,
  };
}
export type Prng = ReturnType<typeof prng>;

type Path = (string | number)[];
const BLOCKS: Path[] = [['snapshots', 'auto'], ['external', 'platform', 'autoSnapshot']];

const WRONG_TYPES: unknown[] = [42, -1, 0, 3.5, true, false, 'text', '', [], ['a', 1], {}, { nested: { deeper: 1 } }, null];
const BAD_CRONS = ['* * * *', '61 * * * *', '0 25 * * *', '@weird', 'every day', '*/0 * * * *', '   ', '@every', '@every 0s', '@every -5m', '0 0 * * 8', 'MON * * * *', '💥 * * * *', '0 0 1 JAN,XYZ *', '* * * * * * *', '0 0 0 * *'];
const BAD_ZONES = ['Mars/Olympus', 'UTC+25', 'Europe/Berl1n', '../../etc/passwd', 'America/New York', 'Z', '+02:00', 'Ünïcødé/Zone', 'europe/berlin/extra'];
const BAD_S3_URLS = ['s3://', 'http://bucket/x', 's3://Bucket_With_Caps', 's3://b/p?unknown=1', 's3://b?url=!!notbase64', 's3:/b', 's3://b/p?region=', 'oci://x/y', 's3://b/p?force-path-style=maybe', 's3://b/../../p', 's3://a', '//bucket'];
const BAD_OCI_REPOS = ['oci://', 'oci://reg/repo:tag', 'oci://reg/repo@sha256:abc', 'reg//repo', 'https://reg/repo', 'oci://REG/Repo', 'oci://reg', ':5000/repo', 'oci://reg/repo:', 'oci:// reg/repo'];
const GOOD_VALUES: Record<string, unknown[]> = { schedule: ['@hourly', '0 3 * * *', '@every 2h'], timezone: ['Asia/Tokyo', 'UTC'], period: [1, 365], maxSnapshots: [1, 100] };
const UNICODE = ['日本語', '🙂🙂🙂', 'e\u0301', '\u202Eevil', 'zero\u200Bwidth', 'tab\there', 'nul\u0000byte', 'Ωmega', '\uFEFFbom', 'ﬁ ligature'];

/** Every path in `value` (objects and arrays), up to a depth, with the blocks first-class. */
function pathsOf(value: unknown, base: Path = [], depth = 0): Path[] {
  if (depth > 8 || value === null || typeof value !== 'object') return [];
  const entries: [string | number, unknown][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  return entries.flatMap(([key, child]) => [[...base, key], ...pathsOf(child, [...base, key], depth + 1)]);
}

function setIn(root: Record<string, unknown>, path: Path, value: unknown): void {
  let node: Record<string | number, unknown> = root;
  for (const key of path.slice(0, -1)) {
    const child = node[key];
    if (child === null || typeof child !== 'object') node[key] = {};
    node = node[key] as Record<string | number, unknown>;
  }
  node[path[path.length - 1]] = value;
}

function deleteIn(root: Record<string, unknown>, path: Path): void {
  let node: unknown = root;
  for (const key of path.slice(0, -1)) node = (node as Record<string | number, unknown> | undefined)?.[key];
  if (Array.isArray(node)) node.splice(Number(path[path.length - 1]), 1);
  else if (node && typeof node === 'object') delete (node as Record<string | number, unknown>)[path[path.length - 1]];
}

function blockOf(values: Record<string, unknown>, random: Prng): Path {
  const present = BLOCKS.filter((block) => pathsOf(values).some((p) => p.join('.') === block.join('.')));
  return present.length > 0 ? random.pick(present) : random.pick(BLOCKS);
}

function hugeValue(random: Prng): unknown {
  return random.pick<() => unknown>([
    () => 'x'.repeat(100_000),
    () => 1e308,
    () => -1e308,
    () => Number.MAX_SAFE_INTEGER + 2,
    () => 2 ** 31,
    () => Array.from({ length: 5000 }, (_, i) => i),
    () => Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`key${i}`, i])),
    () => Array.from({ length: 150 }).reduce<unknown>((inner) => [inner], 'deep'),
  ])();
}

type Mutation = { name: string; apply: (values: Record<string, unknown>, random: Prng) => void };

const MUTATIONS: Mutation[] = [
  { name: 'wrong type', apply: (v, r) => setIn(v, r.pick(targetPaths(v, r)), r.pick(WRONG_TYPES)) },
  { name: 'missing field', apply: (v, r) => deleteIn(v, r.pick(targetPaths(v, r))) },
  { name: 'bad cron', apply: (v, r) => setIn(v, [...blockOf(v, r), 'schedule'], r.pick(BAD_CRONS)) },
  { name: 'bad zone', apply: (v, r) => setIn(v, [...blockOf(v, r), 'timezone'], r.pick(BAD_ZONES)) },
  { name: 'bad s3 url', apply: (v, r) => setIn(v, [...blockOf(v, r), 'storage', 's3', 'url'], r.pick(BAD_S3_URLS)) },
  { name: 'bad oci repository', apply: (v, r) => setIn(v, [...blockOf(v, r), 'storage', 'oci', 'repository'], r.pick(BAD_OCI_REPOS)) },
  { name: 'huge value', apply: (v, r) => setIn(v, r.pick(targetPaths(v, r)), hugeValue(r)) },
  { name: 'unicode value', apply: (v, r) => setIn(v, r.pick(targetPaths(v, r)), r.pick(UNICODE)) },
  { name: 'unicode key', apply: (v, r) => setIn(v, [...blockOf(v, r), r.pick(UNICODE)], r.pick(UNICODE)) },
  {
    name: 'valid tweak',
    apply: (v, r) => {
      const field = r.pick(Object.keys(GOOD_VALUES));
      const path = field === 'period' || field === 'maxSnapshots' ? ['retention', field] : [field];
      setIn(v, [...blockOf(v, r), ...path], r.pick(GOOD_VALUES[field]));
    },
  },
];

/** Mostly paths inside an auto-snapshot block (where validation happens), sometimes anywhere. */
function targetPaths(values: Record<string, unknown>, random: Prng): Path[] {
  const all = pathsOf(values);
  const inBlock = all.filter((p) => BLOCKS.some((block) => block.every((key, i) => p[i] === key) && p.length > block.length));
  return inBlock.length > 0 && random.chance(0.8) ? inBlock : all.length > 0 ? all : [['snapshots']];
}

/** Breaks the YAML text itself, after serializing. */
function corruptText(text: string, random: Prng): string {
  return random.pick<() => string>([
    () => text.slice(0, random.int(text.length)),
    () => text.replace(/\n  /, '\n\t'),
    () => `${text}\n  bad: [unclosed\n`,
    () => `${text}snapshots: duplicate\n`,
    () => `"${text}`,
    () => `${text}\n*undefinedAlias\n`,
  ])();
}

export interface GeneratedInput {
  index: number;
  fixture: string;
  mutations: string[];
  text: string;
}

export function generateInputs(seed: number, count: number): GeneratedInput[] {
  const random = prng(seed);
  const fixtures = readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.yaml')).sort();
  return Array.from({ length: count }, (_, index) => {
    const fixture = random.pick(fixtures);
    const values = (parse(readFileSync(join(FIXTURE_DIR, fixture), 'utf8'), { version: '1.1' }) ?? {}) as Record<string, unknown>;
    const mutations: string[] = [];
    for (let n = 1 + random.int(3); n > 0; n--) {
      const mutation = random.pick(MUTATIONS);
      mutation.apply(values, random);
      mutations.push(mutation.name);
    }
    let text = stringify(values, { version: '1.1', lineWidth: 0 });
    if (random.chance(0.1)) {
      text = corruptText(text, random);
      mutations.push('corrupt text');
    }
    return { index, fixture, mutations, text };
  });
}
