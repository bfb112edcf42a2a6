// Bounds on what one tenant's vcluster.yaml may ask of the worker (SPEC section 9: every tenant-written input is
// hostile, and one bad config harms only its own cluster). The first two are worker settings (lib/runtime-config.ts
// reads them); the rest protect the parser itself and are fixed.
import type { ObjectLockMode } from '../../contracts/definitions';

/** What a policy may ask for; an operator tunes these per worker. */
export interface PolicyLimits {
  /** Shortest time between two snapshots a schedule may ask for, in seconds (VCSNAP_MIN_SCHEDULE_INTERVAL). */
  minScheduleIntervalSeconds: number;
  /** Largest `volumes.concurrency` (VCSNAP_MAX_VOLUME_CONCURRENCY). */
  maxVolumeConcurrency: number;
  /** The Object Lock modes a policy's `objectLock` may ask for (VCSNAP_OBJECT_LOCK_MODES). */
  objectLockModes: ReadonlyArray<ObjectLockMode>;
}

export const POLICY_LIMITS: Readonly<PolicyLimits> = Object.freeze({
  // One minute: the finest a 5-field cron can go, which the product's own demo and tests use (`* * * * *`); only
  // `@every` below a minute (`@every 1s`) is refused. Operators of shared workers raise it, e.g. to 5m.
  minScheduleIntervalSeconds: 60,
  // Each volume in flight is a child workflow and a VolumeSnapshot the CSI driver cuts at once; 50 keeps one
  // tenant's run from monopolizing the driver and the kube-apiserver, and is far above the default of 10.
  maxVolumeConcurrency: 50,
  // GOVERNANCE can be lifted by whoever holds s3:BypassGovernanceRetention; COMPLIANCE by no one until it expires
  // (retention.period may be up to a century), so a tenant gets it only where the operator allows it.
  objectLockModes: Object.freeze(['GOVERNANCE'] as ObjectLockMode[]),
});

/**
 * Largest config.yaml (and vcluster.yaml) read, in bytes. Kubernetes caps a whole Secret at 1 MiB and a vCluster's
 * complete values are some tens of KiB: half a MiB leaves room for large inline manifests (one string value each)
 * while bounding the memory and lexing one tenant's text costs the worker; MAX_CONFIG_VALUES bounds the rest.
 */
export const MAX_CONFIG_BYTES = 512 * 1024;

/**
 * Deepest nesting of mappings and lists. vCluster's own values nest about 10 levels (a pod affinity inside
 * controlPlane.statefulSet); the YAML composer recurses per level and overflows the stack at some hundreds, and its
 * concrete-syntax parser slows and grows with depth, so nesting is checked before the document is built.
 */
export const MAX_CONFIG_DEPTH = 64;

/**
 * Most values (scalars, aliases, flow collections) in one document. vCluster's complete values, chart defaults
 * included, hold a few thousand at most (its commented values.yaml is about 50 KB); the YAML library builds about
 * 100,000 a second, so this bounds a document's parse at a fraction of a second however it is shaped (a long string
 * such as inline manifests is one value).
 */
export const MAX_CONFIG_VALUES = 20_000;

/**
 * Keys in one mapping. vCluster's widest mapping has a few dozen; the YAML library checks each new key against all
 * earlier ones, so one mapping of 50,000 keys costs it about 15 s.
 */
export const MAX_MAPPING_KEYS = 1000;

/**
 * Most nodes YAML aliases (`*name`) may expand to, as counted by the yaml library's toJS. Helm values rarely use
 * anchors at all; a "billion laughs" document expands exponentially and is stopped here.
 */
export const MAX_ALIAS_EXPANSION = 100;

/** Go-style rendering of a duration for messages: 90 -> "1m30s", 3600 -> "1h", 0.5 -> "500ms". */
export function formatSeconds(seconds: number): string {
  if (seconds < 1) return `${Math.round(seconds * 1000)}ms`;
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = Math.round((seconds % 60) * 1000) / 1000;
  const parts = [hours > 0 ? `${hours}h` : '', minutes > 0 ? `${minutes}m` : '', rest > 0 ? `${rest}s` : ''];
  return parts.join('') || '0s';
}
