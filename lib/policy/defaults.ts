import type { ClusterRef, OverlapPolicyName, SnapshotPolicy, StorageLocation } from '../../contracts/definitions';

/** What a policy gets for every field its vcluster.yaml leaves out. */
export interface PolicyDefaults {
  timezone: string;
  retentionPeriodDays: number;
  maxSnapshots: number;
  volumesEnabled: boolean;
  volumeConcurrency: number;
  overlap: OverlapPolicyName;
  /** One hour: a worker or server outage shorter than this still takes the missed snapshot. */
  catchupWindowSeconds: number;
}

export const POLICY_DEFAULTS: Readonly<PolicyDefaults> = Object.freeze({
  timezone: 'UTC',
  retentionPeriodDays: 30,
  maxSnapshots: 30,
  volumesEnabled: false,
  volumeConcurrency: 10,
  overlap: 'SKIP',
  catchupWindowSeconds: 3600,
});

/**
 * A policy built in code rather than parsed from a vcluster.yaml: the cluster, its cron, its storage and the etcd it
 * is read from, every other field at its default. `overrides` replace whole fields.
 */
export function policyFor(
  cluster: ClusterRef,
  target: { schedule: string; storage: StorageLocation; etcdEndpoints: string[] },
  overrides: Partial<SnapshotPolicy> = {},
): SnapshotPolicy {
  const defaults = POLICY_DEFAULTS;
  return {
    cluster,
    schedule: target.schedule,
    timezone: defaults.timezone,
    retention: { periodDays: defaults.retentionPeriodDays, maxSnapshots: defaults.maxSnapshots },
    storage: target.storage,
    volumes: { enabled: defaults.volumesEnabled, concurrency: defaults.volumeConcurrency },
    overlap: defaults.overlap,
    catchupWindowSeconds: defaults.catchupWindowSeconds,
    state: { endpoints: target.etcdEndpoints, origin: 'explicit' },
    ...overrides,
  };
}

/** Temporal refuses shorter catch-up windows. */
export const MIN_CATCHUP_WINDOW_SECONDS = 10;

/** Retention beyond a century is a typo, and would push cut-off dates out of the Date range. */
export const MAX_RETENTION_PERIOD_DAYS = 36500;
