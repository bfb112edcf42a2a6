// vcluster.yaml -> one normalized SnapshotPolicy (SPEC section 2). Pure: no I/O, no clock.
import type { ClusterRef, SnapshotPolicy, StateSource } from '../../contracts/definitions';
import { POLICY_DEFAULTS, type PolicyDefaults } from './defaults';
import { joinPath, PolicyValidationError, type ConfigIssue } from './issues';
import { MAX_CONFIG_DEPTH, MAX_CONFIG_VALUES, POLICY_LIMITS, type PolicyLimits } from './limits';
import { blockSchema, type BlockForm, type ParsedBlock } from './schema';
import { deriveStateSource } from './state';
import { parseYamlValues } from './text';
import { describeType, getIn, isRecord } from './values';

export interface PolicyOverrides {
  /** Fallbacks for what the vcluster.yaml leaves out (the product's defaults otherwise). */
  defaults?: Partial<PolicyDefaults>;
  /** A state source that wins over the vcluster.yaml, e.g. from the CLI or the platform. */
  state?: StateSource;
  /** Chart identity for the archive's release entry. */
  release?: { chartName: string; chartVersion: string };
  /** The `chart` label of `vc-config-<name>` (e.g. `vcluster-0.30.0`): the release when `release` is not given. */
  chartLabel?: string;
  /** The worker's bounds on what a policy may ask for (the product's POLICY_LIMITS otherwise). */
  limits?: Partial<PolicyLimits>;
}

export type PolicyParseResult =
  | { ok: true; policy: SnapshotPolicy }
  | { ok: true; policy: null; reason: 'disabled' | 'absent' }
  | { ok: false; errors: ConfigIssue[] };

const CURRENT_PATH = ['snapshots', 'auto'];
const LEGACY_PATH = ['external', 'platform', 'autoSnapshot'];
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Parses vcluster.yaml text (YAML 1.1, as Helm reads values: `enabled: yes` is true). Hostile text (too large, too
 * deep, an alias bomb) is an issue like any other: this never throws on input.
 */
export function parsePolicy(yamlText: string, cluster: ClusterRef, overrides: PolicyOverrides = {}): PolicyParseResult {
  const parsed = parseYamlValues(yamlText);
  return parsed.ok ? parseValues(parsed.values, cluster, overrides) : { ok: false, errors: parsed.errors };
}

/** Parses already-decoded values, e.g. Helm values from `vc-config-<name>` or an object from the client API. */
export function parsePolicyValues(values: unknown, cluster: ClusterRef, overrides: PolicyOverrides = {}): PolicyParseResult {
  // Values built in code may be deeper or larger than any YAML we would read, share subtrees exponentially, or be
  // cyclic: they are bounded before anything recurses into them.
  const shape = valuesShape(values);
  if (shape !== undefined) return { ok: false, errors: [{ path: '', message: `the vcluster.yaml values ${shape}` }] };
  return parseValues(values, cluster, overrides);
}

function parseValues(values: unknown, cluster: ClusterRef, overrides: PolicyOverrides): PolicyParseResult {
  if (values === undefined || values === null) return { ok: true, policy: null, reason: 'absent' };
  if (!isRecord(values)) {
    return { ok: false, errors: [{ path: '', message: `the vcluster.yaml must be a mapping, got ${describeType(values)}` }] };
  }
  const limits: PolicyLimits = { ...POLICY_LIMITS, ...overrides.limits };
  const errors: ConfigIssue[] = [...checkCluster(cluster), ...checkParents(values), ...checkSnapshotsKeys(values)];
  const current = getIn(values, CURRENT_PATH);
  const legacy = getIn(values, LEGACY_PATH);
  const legacyEnabled = getIn(legacy, ['enabled']);
  const legacyPath = joinPath('', LEGACY_PATH);
  let form: BlockForm;
  if (current !== undefined && current !== null) {
    form = 'current';
    if (legacyEnabled === true) {
      errors.push({ path: `${legacyPath}.enabled`, message: 'conflicts with snapshots.auto; keep only snapshots.auto (the current form)' });
    }
  } else if (legacy !== undefined && legacy !== null) {
    form = 'legacy';
    if (isRecord(legacy) && (legacyEnabled === false || legacyEnabled === undefined || legacyEnabled === null)) {
      return errors.length > 0 ? { ok: false, errors } : { ok: true, policy: null, reason: 'disabled' };
    }
  } else {
    return errors.length > 0 ? { ok: false, errors } : { ok: true, policy: null, reason: 'absent' };
  }
  const blockPath = joinPath('', form === 'current' ? CURRENT_PATH : LEGACY_PATH);
  const parsed = blockSchema(form, cluster.namespace, limits).safeParse(form === 'current' ? current : legacy);
  if (!parsed.success) {
    errors.push(...parsed.error.issues.map((issue) => ({ path: joinPath(blockPath, issue.path), message: issue.message })));
  }
  if (!parsed.success || errors.length > 0) return { ok: false, errors: dedupe(errors) };
  const state = overrides.state ?? parsed.data.etcd ?? deriveStateSource(values, cluster, blockPath);
  if ('path' in state) return { ok: false, errors: [state] };
  return { ok: true, policy: buildPolicy(parsed.data, cluster, state, overrides, limits) };
}

/**
 * What is wrong with the values' shape, or undefined: held to the bounds a YAML document is (depth, number of
 * values), counting a shared subtree once per reference, so a cycle or an exponential DAG is refused too. Iterative.
 */
function valuesShape(values: unknown): string | undefined {
  const pending: Array<{ value: unknown; depth: number }> = [{ value: values, depth: 0 }];
  let count = 1;
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (typeof next.value !== 'object' || next.value === null) continue;
    if (next.depth >= MAX_CONFIG_DEPTH) return `must not nest deeper than ${MAX_CONFIG_DEPTH} levels of mappings and lists (or refer to themselves)`;
    for (const child of Object.values(next.value)) {
      if (++count > MAX_CONFIG_VALUES) return `must not hold more than ${MAX_CONFIG_VALUES} values`;
      pending.push({ value: child, depth: next.depth + 1 });
    }
  }
  return undefined;
}

/** The policy, or null when auto snapshots are off; throws PolicyValidationError listing every issue. */
export function loadPolicyOrThrow(yamlText: string, cluster: ClusterRef, overrides: PolicyOverrides = {}): SnapshotPolicy | null {
  const result = parsePolicy(yamlText, cluster, overrides);
  if (!result.ok) throw new PolicyValidationError(cluster, result.errors);
  return result.policy;
}

function buildPolicy(block: ParsedBlock, cluster: ClusterRef, state: StateSource, overrides: PolicyOverrides, limits: PolicyLimits): SnapshotPolicy {
  const defaults: PolicyDefaults = { ...POLICY_DEFAULTS, ...overrides.defaults };
  // A worker whose maximum is below the product's default concurrency gives its maximum instead.
  defaults.volumeConcurrency = Math.min(defaults.volumeConcurrency, limits.maxVolumeConcurrency);
  const policy: SnapshotPolicy = {
    cluster: { name: cluster.name, namespace: cluster.namespace },
    schedule: block.schedule,
    timezone: block.timezone ?? defaults.timezone,
    retention: {
      periodDays: block.retention?.period ?? defaults.retentionPeriodDays,
      maxSnapshots: block.retention?.maxSnapshots ?? defaults.maxSnapshots,
    },
    storage: block.storage,
    volumes: {
      enabled: block.volumes?.enabled ?? defaults.volumesEnabled,
      concurrency: block.volumes?.concurrency ?? defaults.volumeConcurrency,
    },
    overlap: block.overlap ?? defaults.overlap,
    catchupWindowSeconds: block.catchupWindowSeconds ?? defaults.catchupWindowSeconds,
    state,
  };
  if (block.objectLock) policy.objectLock = block.objectLock;
  if (block.copy) policy.copy = block.copy;
  const release = overrides.release ?? releaseFromChartLabel(overrides.chartLabel);
  if (release) policy.release = { chartName: release.chartName, chartVersion: release.chartVersion };
  return policy;
}

/** Helm's `chart` label is `<name>-<version>`; the version starts at the first `-<digit>`. */
export function releaseFromChartLabel(label: string | undefined): { chartName: string; chartVersion: string } | undefined {
  const match = /^(.+?)-(v?\d+\.\d+\.\d+\S*)$/.exec(label?.trim() ?? '');
  return match ? { chartName: match[1], chartVersion: match[2] } : undefined;
}

function checkCluster(cluster: ClusterRef): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const key of ['name', 'namespace'] as const) {
    const value: unknown = cluster[key];
    if (typeof value !== 'string' || value.length > 63 || !DNS_LABEL.test(value)) {
      issues.push({ path: `cluster.${key}`, message: `must be a DNS label (lowercase letters, digits and "-", at most 63), got ${JSON.stringify(value)}` });
    }
  }
  return issues;
}

/** `snapshots: "on"` and the like: a parent of either block that is not a mapping. */
function checkParents(values: Record<string, unknown>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const path of [CURRENT_PATH, LEGACY_PATH]) {
    for (let depth = 1; depth <= path.length; depth += 1) {
      const value = getIn(values, path.slice(0, depth));
      if (value === undefined || value === null || isRecord(value)) continue;
      issues.push({ path: joinPath('', path.slice(0, depth)), message: `expected a mapping, got ${describeType(value)}` });
      break;
    }
  }
  return issues;
}

/** vCluster's `snapshots` holds only `auto`: anything else there would be silently ignored, so it is refused. */
function checkSnapshotsKeys(values: Record<string, unknown>): ConfigIssue[] {
  const snapshots = values.snapshots;
  if (!isRecord(snapshots)) return [];
  return Object.keys(snapshots)
    .filter((key) => key !== 'auto')
    .map((key) => ({ path: joinPath('', ['snapshots', key]), message: 'unknown field (snapshots takes auto)' }));
}

function dedupe(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const key = `${issue.path}\u0000${issue.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
