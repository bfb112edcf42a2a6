// The one config loader for the worker and the CLI: Temporal connection from environment / temporal.toml profiles
// (@temporalio/envconfig), the host cluster from KUBECONFIG or in-cluster credentials.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { homedir } from 'node:os';
import * as k8s from '@kubernetes/client-node';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { z } from 'zod';
import { OBJECT_LOCK_MODES, TASK_QUEUE, type EngineChoice, type ObjectLockMode } from '../contracts/definitions';
import { parseRecipients } from './archive/encryption';
import { limitKubeRequests } from './kube/request-timeout';
import { parseGoDuration } from './policy/duration';
import { POLICY_LIMITS, type PolicyLimits } from './policy/limits';

/** Four dumps at once: about 4 × 60 MiB of buffers, and more than enough to keep a few cores busy. */
export const DEFAULT_MAX_CONCURRENT_DUMPS = 4;
/** Ten minutes: CSI drivers usually cut a snapshot in seconds; a large cloud volume can take minutes. */
export const DEFAULT_VOLUME_READY_TIMEOUT_SECONDS = 600;
/** Ten minutes: a running vCluster picks a request up within seconds; past this it is down or too old. */
export const DEFAULT_REQUEST_PICKUP_TIMEOUT_SECONDS = 600;
/** Two minutes without a byte: far past a server finishing a multipart upload, well before a 2-hour limit. */
export const DEFAULT_TRANSFER_STALL_TIMEOUT_SECONDS = 120;
/** deploy/deployment.yaml's terminationGracePeriodSeconds (120) less 10 s for the process to exit after draining. */
export const DEFAULT_SHUTDOWN_GRACE_SECONDS = 110;

/** A comma-separated list, blanks dropped. */
function listFrom(value: string | undefined): string[] {
  return (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

function engineFrom(env: NodeJS.ProcessEnv): EngineChoice {
  const value = env.VCSNAP_ENGINE || 'auto';
  if (value === 'auto' || value === 'direct' || value === 'request') return value;
  throw new Error(`VCSNAP_ENGINE must be auto, direct or request, got ${JSON.stringify(value)}`);
}

/** The worker's settings its activities use (ActivityDeps extends them), read from the environment. */
export interface WorkerSettings {
  /** Dumps this worker runs at once (VCSNAP_MAX_CONCURRENT_DUMPS, default 4); more wait their turn, oldest first. */
  maxConcurrentDumps: number;
  /**
   * A transfer that moves no byte for this long fails its attempt as stalled (VCSNAP_TRANSFER_STALL_TIMEOUT, default
   * 2m); also the idle limit of each storage request.
   */
  transferStallTimeoutSeconds: number;
  /** How long a volume snapshot may take to become ready, unless the run says (VCSNAP_VOLUME_READY_TIMEOUT, default 10m). */
  volumeReadyTimeoutSeconds: number;
  /** How long a snapshot request may wait for its vCluster to pick it up (VCSNAP_REQUEST_PICKUP_TIMEOUT). */
  requestPickupTimeoutSeconds: number;
  /** Engine for discovered clusters whose vc-config Secret does not choose (VCSNAP_ENGINE: auto, direct, request). */
  defaultEngine: EngineChoice;
  /** Namespaces (comma-separated, `*` globs) whose Secrets every virtual cluster may reference (VCSNAP_SHARED_NAMESPACES). */
  sharedNamespaces: string[];
  /** The host namespaces this worker serves (VCSNAP_NAMESPACES, the namespaced deploy mode); absent = all. */
  servedNamespaces?: string[];
  /** Restore drills (see lib/drill): how often each cluster is drilled (VCSNAP_DRILL_INTERVAL, default 168h; `off` = never). */
  drillIntervalSeconds?: number;
  /** The etcd binary a drill starts its scratch etcd from (VCSNAP_DRILL_ETCD; the image ships one). */
  drillEtcdBinary?: string;
  /** An empty etcd drills restore into instead (VCSNAP_DRILL_ETCD_ENDPOINT); every key is deleted after each drill. */
  drillEtcdEndpoint?: string;
  /** A kube-apiserver binary: when set, drills start it on the restored etcd and list every resource type (VCSNAP_DRILL_KUBE_APISERVER). */
  drillKubeApiserver?: string;
  /** `namespace/name` of the Secret with the alert webhook (`url`, optional `format`: alertmanager or slack) (VCSNAP_ALERT_WEBHOOK_SECRET). */
  alertWebhookSecret?: { namespace: string; name: string };
  /**
   * age X25519 public keys (`age1...`, comma- or space-separated) every archive this worker writes is encrypted to
   * (VCSNAP_ENCRYPTION_RECIPIENTS); a cluster's annotation vcsnap.io/encryption-recipients adds its own. Absent and
   * no annotation: archives are stored in the clear.
   */
  encryptionRecipients?: string[];
  /**
   * `namespace/name` of the Secret holding the age identities (private keys, key `identities`, one per line) that
   * verify, restore and drills decrypt with (VCSNAP_ENCRYPTION_IDENTITY_SECRET); read only when an archive is
   * encrypted, never put in workflow history. Keep old identities in it after a rotation.
   */
  encryptionIdentitySecret?: { namespace: string; name: string };
}

/** Settings whose absence means "off": every other one has a default. */
export type OptionalWorkerSettings =
  | 'servedNamespaces'
  | 'drillIntervalSeconds'
  | 'drillEtcdBinary'
  | 'drillEtcdEndpoint'
  | 'drillKubeApiserver'
  | 'alertWebhookSecret'
  | 'encryptionRecipients'
  | 'encryptionIdentitySecret';

export interface RuntimeConfig extends WorkerSettings {
  temporal: ReturnType<typeof loadClientConnectConfig>;
  taskQueue: string;
  kube?: k8s.KubeConfig;
  /** Temporal runtime metrics (VCSNAP_METRICS_PORT); absent = off. */
  metricsPort?: number;
  /** The product's own metrics (VCSNAP_PRODUCT_METRICS_PORT, default 9465; `off` = none). */
  productMetricsPort?: number;
  /** Path of a prebuilt workflow bundle (VCSNAP_WORKFLOW_BUNDLE); absent = bundle from source at start. */
  workflowBundle?: string;
  /** Bounds on what a tenant's vcluster.yaml may ask for (see loadPolicyLimits). */
  policyLimits: PolicyLimits;
  /**
   * How long running activities may finish after SIGTERM before they are cancelled (VCSNAP_SHUTDOWN_GRACE, default
   * 110s): keep it below the pod's terminationGracePeriodSeconds, so a rolling update drains dumps instead of
   * restarting them.
   */
  shutdownGraceSeconds: number;
  /**
   * How often the worker fleet checks every cluster's recovery point and notifies the overdue ones through the alert
   * webhook (VCSNAP_RECOVERY_POINT_CHECK, default 5m; `off` = no check): a schedule per task queue.
   */
  recoveryPointCheckSeconds?: number;
}

/** Host-cluster connection, when one is configured: KUBECONFIG, ~/.kube/config, or the in-cluster service account. */
export function loadKubeConfig(): k8s.KubeConfig | undefined {
  const inCluster = existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token');
  if (!process.env.KUBECONFIG && !existsSync(join(homedir(), '.kube', 'config')) && !inCluster) return undefined;
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromDefault();
  return limitKubeRequests(kubeConfig);
}

export const DEFAULT_PRODUCT_METRICS_PORT = 9465;
/** Weekly: a restore drill reads the whole archive twice and starts an etcd; most teams drill weekly or monthly. */
export const DEFAULT_DRILL_INTERVAL_SECONDS = 7 * 24 * 3600;

function drillIntervalFrom(env: NodeJS.ProcessEnv): number | undefined {
  if (env.VCSNAP_DRILL_INTERVAL === 'off') return undefined;
  return durationSecondsFrom(env, 'VCSNAP_DRILL_INTERVAL', DEFAULT_DRILL_INTERVAL_SECONDS);
}

/** Five minutes: an overdue recovery point is told within minutes of crossing twice its schedule's interval. */
export const DEFAULT_RECOVERY_POINT_CHECK_SECONDS = 300;

function recoveryPointCheckFrom(env: NodeJS.ProcessEnv): number | undefined {
  if (env.VCSNAP_RECOVERY_POINT_CHECK === 'off') return undefined;
  return durationSecondsFrom(env, 'VCSNAP_RECOVERY_POINT_CHECK', DEFAULT_RECOVERY_POINT_CHECK_SECONDS);
}

function secretRefFrom(env: NodeJS.ProcessEnv, name: string): { namespace: string; name: string } | undefined {
  const raw = env[name];
  if (!raw) return undefined;
  const match = /^([a-z0-9-]+)\/([a-z0-9.-]+)$/.exec(raw);
  if (!match) throw new Error(`${name}: expected namespace/name of a Secret, got ${JSON.stringify(raw)}`);
  return { namespace: match[1]!, name: match[2]! };
}

function recipientsFrom(env: NodeJS.ProcessEnv, name: string): string[] | undefined {
  const raw = env[name];
  if (!raw?.trim()) return undefined;
  const parsed = parseRecipients(raw, name);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.recipients;
}

function portFrom(env: NodeJS.ProcessEnv, name: string, fallback?: number): number | undefined {
  const raw = env[name];
  if (!raw) return fallback;
  if (raw === 'off') return undefined;
  const port = Number(raw);
  if (!(Number.isInteger(port) && port > 0 && port < 65536)) throw new Error(`${name}: not a port number: ${raw}`);
  return port;
}

function positiveIntegerFrom(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (!raw) return fallback;
  const value = Number(raw);
  if (!(Number.isInteger(value) && value > 0)) throw new Error(`${name}: expected a positive integer, got ${JSON.stringify(raw)}`);
  return value;
}

function durationSecondsFrom(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (!raw) return fallback;
  const milliseconds = parseGoDuration(raw);
  if (milliseconds === undefined || milliseconds < 1000) throw new Error(`${name}: expected a duration of at least 1s such as "10m" or "1h", got ${JSON.stringify(raw)}`);
  return milliseconds / 1000;
}

/** `GOVERNANCE,COMPLIANCE` (any case), or `none`: the Object Lock modes a tenant's policy may ask for. */
const objectLockModesSchema = z
  .string()
  .transform((text) => (text.trim().toLowerCase() === 'none' ? [] : text.split(',').map((mode) => mode.trim().toUpperCase()).filter(Boolean)))
  .pipe(z.array(z.enum(OBJECT_LOCK_MODES)));

function objectLockModesFrom(env: NodeJS.ProcessEnv): ReadonlyArray<ObjectLockMode> {
  const raw = env.VCSNAP_OBJECT_LOCK_MODES;
  if (!raw) return POLICY_LIMITS.objectLockModes;
  const parsed = objectLockModesSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`VCSNAP_OBJECT_LOCK_MODES: expected a comma-separated list of GOVERNANCE and COMPLIANCE, or none; got ${JSON.stringify(raw)}`);
  return [...new Set(parsed.data)];
}

/**
 * The worker's bounds on tenant policies, passed to the parser (discovery reads them here by default):
 * - VCSNAP_MIN_SCHEDULE_INTERVAL (Go duration, default 1m): the shortest time between two snapshots a schedule may
 *   ask for; `@every 30s` is refused under the default, and so is every other minute (`0-59/2 * * * *`) under `5m`.
 * - VCSNAP_MAX_VOLUME_CONCURRENCY (integer, default 50): the largest `volumes.concurrency`, i.e. how many volume
 *   snapshots one run may cut at once.
 * - VCSNAP_OBJECT_LOCK_MODES (default GOVERNANCE): the Object Lock modes a policy's `objectLock` may ask for.
 */
export function loadPolicyLimits(env: NodeJS.ProcessEnv = process.env): PolicyLimits {
  return {
    minScheduleIntervalSeconds: durationSecondsFrom(env, 'VCSNAP_MIN_SCHEDULE_INTERVAL', POLICY_LIMITS.minScheduleIntervalSeconds),
    maxVolumeConcurrency: positiveIntegerFrom(env, 'VCSNAP_MAX_VOLUME_CONCURRENCY', POLICY_LIMITS.maxVolumeConcurrency),
    objectLockModes: objectLockModesFrom(env),
  };
}

export function loadRuntimeConfig(env: NodeJS.ProcessEnv = process.env): RuntimeConfig {
  const metricsPort = portFrom(env, 'VCSNAP_METRICS_PORT');
  const productMetricsPort = portFrom(env, 'VCSNAP_PRODUCT_METRICS_PORT', DEFAULT_PRODUCT_METRICS_PORT);
  return {
    temporal: loadClientConnectConfig(),
    taskQueue: env.VCSNAP_TASK_QUEUE || TASK_QUEUE,
    kube: loadKubeConfig(),
    metricsPort,
    productMetricsPort,
    workflowBundle: env.VCSNAP_WORKFLOW_BUNDLE || undefined,
    maxConcurrentDumps: positiveIntegerFrom(env, 'VCSNAP_MAX_CONCURRENT_DUMPS', DEFAULT_MAX_CONCURRENT_DUMPS),
    transferStallTimeoutSeconds: durationSecondsFrom(env, 'VCSNAP_TRANSFER_STALL_TIMEOUT', DEFAULT_TRANSFER_STALL_TIMEOUT_SECONDS),
    volumeReadyTimeoutSeconds: durationSecondsFrom(env, 'VCSNAP_VOLUME_READY_TIMEOUT', DEFAULT_VOLUME_READY_TIMEOUT_SECONDS),
    requestPickupTimeoutSeconds: durationSecondsFrom(env, 'VCSNAP_REQUEST_PICKUP_TIMEOUT', DEFAULT_REQUEST_PICKUP_TIMEOUT_SECONDS),
    defaultEngine: engineFrom(env),
    sharedNamespaces: listFrom(env.VCSNAP_SHARED_NAMESPACES),
    servedNamespaces: env.VCSNAP_NAMESPACES ? listFrom(env.VCSNAP_NAMESPACES) : undefined,
    policyLimits: loadPolicyLimits(env),
    drillIntervalSeconds: drillIntervalFrom(env),
    drillEtcdBinary: env.VCSNAP_DRILL_ETCD || undefined,
    drillEtcdEndpoint: env.VCSNAP_DRILL_ETCD_ENDPOINT || undefined,
    drillKubeApiserver: env.VCSNAP_DRILL_KUBE_APISERVER || undefined,
    alertWebhookSecret: secretRefFrom(env, 'VCSNAP_ALERT_WEBHOOK_SECRET'),
    encryptionRecipients: recipientsFrom(env, 'VCSNAP_ENCRYPTION_RECIPIENTS'),
    encryptionIdentitySecret: secretRefFrom(env, 'VCSNAP_ENCRYPTION_IDENTITY_SECRET'),
    shutdownGraceSeconds: durationSecondsFrom(env, 'VCSNAP_SHUTDOWN_GRACE', DEFAULT_SHUTDOWN_GRACE_SECONDS),
    recoveryPointCheckSeconds: recoveryPointCheckFrom(env),
  };
}
