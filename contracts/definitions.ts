// Definitions shared by the workflows, the activities, the client API and the CLI. Deterministic and dependency-free:
// the workflow bundle imports this file, so it may only use @temporalio/{workflow,common} and plain TypeScript.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { DrillSummary } from './drill';

export const TASK_QUEUE = 'vcsnap';

/**
 * The task queue of the etcd dumps of runs on `taskQueue`: every worker also serves it with at most
 * VCSNAP_MAX_CONCURRENT_DUMPS dumps at once, so a dump waits in Temporal's queue (no slot held, no start-to-close
 * running) and goes to whichever replica frees a slot first.
 */
export function dumpTaskQueue(taskQueue: string): string {
  return `${taskQueue}-dumps`;
}

/** Workflow type names, as clients start them (a replay test checks each is a function of workflows/index.ts). */
export const WORKFLOW_TYPES = {
  snapshot: 'snapshotWorkflow',
  volumeSnapshot: 'volumeSnapshotWorkflow',
  catalog: 'catalogWorkflow',
  restore: 'restoreWorkflow',
  verify: 'verifyWorkflow',
  sync: 'syncWorkflow',
  drill: 'drillWorkflow',
  notify: 'notifyWorkflow',
  recoveryPoint: 'recoveryPointCheckWorkflow',
} as const;

/** The product's snapshot status vocabulary (SPEC section 4). */
export const SNAPSHOT_STATUSES = ['Scheduled', 'InProgress', 'Completed', 'PartiallyFailed', 'Failed', 'NotFound'] as const;
export type SnapshotStatus = (typeof SNAPSHOT_STATUSES)[number];

/** Per-volume phases (SPEC section 6). */
export const VOLUME_PHASES = [
  'NotStarted',
  'InProgress',
  'CompletedCleaningUp',
  'Completed',
  'FailedCleaningUp',
  'Failed',
  'Skipped',
] as const;
export type VolumePhase = (typeof VOLUME_PHASES)[number];

/** A reference to a host-cluster Secret. Secrets are resolved inside activities only. */
export interface SecretRef {
  name: string;
  namespace: string;
}

export interface S3Location {
  type: 's3';
  bucket: string;
  /** Key prefix without leading or trailing slash; '' for the bucket root. */
  prefix: string;
  region?: string;
  /** Custom endpoint (e.g. MinIO), from the base64 `url` query option. */
  endpoint?: string;
  forcePathStyle: boolean;
  insecureSkipTlsVerify: boolean;
  skipClientCredentials: boolean;
  checksumAlgorithm?: string;
  kmsKeyId?: string;
  serverSideEncryption?: string;
  tagging?: string;
  /** Secret holding AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN; absent = AWS default chain. */
  credential?: SecretRef;
  /**
   * True when the URL itself carried access-key-id/secret-access-key/session-token query options. The values are
   * never copied into a policy: the activity re-reads them from the cluster's configuration Secret.
   */
  inlineCredentialsInUrl?: boolean;
}

export interface OciLocation {
  type: 'oci';
  /** Registry host[:port], e.g. `ghcr.io` or `127.0.0.1:5000`. */
  registry: string;
  /** Repository path inside the registry, e.g. `team/backups`. */
  repository: string;
  /** Use plain HTTP (loopback registries in tests and demos). */
  insecure?: boolean;
  /** Secret holding `username` and `password`. */
  credential?: SecretRef;
  /** True when the configuration had an inline username/password (kept out of the policy, read by the activity). */
  inlineCredential?: boolean;
}

export interface FileLocation {
  type: 'container';
  /** Directory on a volume mounted into the worker. */
  path: string;
}

export interface AzureLocation {
  type: 'azure';
  /**
   * Blob service URL of the storage account, without any SAS: `https://<account>.blob.core.windows.net`, or the
   * path-style `http://127.0.0.1:10000/<account>` of an emulator (Azurite).
   */
  serviceUrl: string;
  accountName: string;
  container: string;
  /** Blob name prefix without leading or trailing slash; '' for the container root. */
  prefix: string;
  /** Secret holding AZURE_STORAGE_KEY (the account key) or AZURE_STORAGE_BLOB_SAS (a SAS token). */
  credential: SecretRef;
}

export type StorageLocation = S3Location | OciLocation | FileLocation | AzureLocation;

/** Where a cluster's etcd key space is read from. */
export interface StateSource {
  /** etcd v3 endpoints, e.g. `https://demo-etcd.team-a:2379`. */
  endpoints: string[];
  /** Secret with `etcd-ca.crt` and a client pair (vCluster's `<name>-certs`). */
  tlsSecret?: SecretRef;
  /** How the source was chosen, for error messages. */
  origin: 'explicit' | 'deployed-etcd' | 'external-etcd' | 'none';
  /** When origin is 'none': what the operator must configure. */
  unavailableReason?: string;
}

export interface ClusterRef {
  name: string;
  namespace: string;
}

/**
 * How a snapshot's state is taken (SPEC 5): `direct` streams the etcd key space from the worker; `request` files a
 * vCluster snapshot request that the vCluster control plane serves from its own store (every backing store).
 */
export type SnapshotEngine = 'direct' | 'request';
/** `auto`: direct where the worker reaches the store, request elsewhere. */
export type EngineChoice = 'auto' | SnapshotEngine;

/** S3 Object Lock retention modes: GOVERNANCE can be lifted by a principal with s3:BypassGovernanceRetention, COMPLIANCE by no one. */
export const OBJECT_LOCK_MODES = ['GOVERNANCE', 'COMPLIANCE'] as const;
export type ObjectLockMode = (typeof OBJECT_LOCK_MODES)[number];

/** The lock an archive or record was written with: retained until `retainUntil` (ISO), the snapshot's time + retention.period. */
export interface ObjectLock {
  mode: ObjectLockMode;
  retainUntil: string;
}

/** One normalized auto-snapshot policy, produced from either vcluster.yaml form. */
export interface SnapshotPolicy {
  cluster: ClusterRef;
  schedule: string;
  timezone: string;
  retention: { periodDays: number; maxSnapshots: number };
  storage: StorageLocation;
  volumes: { enabled: boolean; concurrency: number };
  overlap: OverlapPolicyName;
  /** How far back a missed fire is still taken after an outage, in seconds. */
  catchupWindowSeconds: number;
  state: StateSource;
  /** Chart identity for the archive's release entry, when known. */
  release?: { chartName: string; chartVersion: string };
  /** Forced engine (worker setting or per-cluster annotation); absent = auto. */
  engine?: EngineChoice;
  /**
   * The cluster's own age recipients (annotation vcsnap.io/encryption-recipients), added to the worker's
   * (VCSNAP_ENCRYPTION_RECIPIENTS): archives are encrypted when either names one. Public keys only.
   */
  encryption?: { recipients: string[] };
  /** Write every archive and record with an S3 Object Lock of retention.period days (S3 locations only). */
  objectLock?: ObjectLockMode;
  /** A second location each snapshot is copied to once stored (`copy` in the auto-snapshot block). */
  copy?: StorageLocation;
}

export const OVERLAP_POLICIES = ['SKIP', 'BUFFER_ONE', 'BUFFER_ALL', 'CANCEL_OTHER', 'TERMINATE_OTHER', 'ALLOW_ALL'] as const;
export type OverlapPolicyName = (typeof OVERLAP_POLICIES)[number];

/** The snapshot workflow's single plain-JSON input: references only, never secret values. */
export interface SnapshotWorkflowInput {
  policy: SnapshotPolicy;
  /** ISO time that names the snapshot; absent = the schedule's nominal time, else the workflow start time. */
  nominalTime?: string;
}

export interface VolumeResult {
  pvc: string;
  phase: VolumePhase;
  reason?: string;
  driver?: string;
  snapshotHandle?: string;
  volumeSnapshotClass?: string;
  restoreSize?: string;
  pvcSpec?: Record<string, unknown>;
}

export interface SnapshotStatusView {
  cluster: ClusterRef;
  status: SnapshotStatus;
  /** Finer-grained step inside InProgress. */
  phase: 'planning' | 'volumes' | 'dumping' | 'copying' | 'metadata' | 'retention' | 'done';
  snapshotName?: string;
  url?: string;
  startedAt: string;
  finishedAt?: string;
  keysWritten: number;
  bytesWritten: number;
  volumes: VolumeResult[];
  /** Set while the dump waits in the dump task queue for a free dump slot on some worker. */
  waitingForDumpSlot?: boolean;
  /** The engine taking the state, once the dump step starts. */
  engine?: SnapshotEngine;
  /** The vCluster snapshot request's own phase (request engine), e.g. `CreatingEtcdBackup`. */
  vclusterPhase?: string;
  error?: string;
  retention?: RetentionReport;
  /** The archive's Object Lock, when one was asked for and written. */
  lock?: ObjectLock;
  /** The copy in the policy's second location, once the copy step ran. */
  copy?: SnapshotCopy;
}

/** A snapshot's copy in the policy's `copy` location: its URL and digest, or why it is not there. */
export interface SnapshotCopy {
  url: string;
  sha256?: string;
  lock?: ObjectLock;
  error?: string;
}

/** What the dump step (either engine) returns once the archive is stored. */
export interface StoredSnapshot {
  url: string;
  bytes: number;
  keys: number;
  sha256: string;
  /** etcd revision the dump was pinned to ('' where vCluster took it: the request engine). */
  revision: string;
  /** Set when the archive is encrypted (client-side, age); `sha256` and `bytes` are those of the stored, encrypted bytes. */
  encryption?: ArchiveEncryption;
  /** The Object Lock the archive was written with. */
  lock?: ObjectLock;
  /** The policy asked for a lock the location cannot give (no Object Lock on the bucket): the archive is stored unlocked. */
  lockWarning?: string;
}

/** An archive encrypted with age (https://age-encryption.org/v1) to these X25519 public keys (`age1...`). */
export interface ArchiveEncryption {
  format: 'age';
  recipients: string[];
}

/** The metadata record stored beside each archive (`<name>.json`). */
export interface SnapshotRecord {
  formatVersion: 1;
  cluster: ClusterRef;
  snapshotName: string;
  archiveUrl: string;
  status: 'Completed' | 'PartiallyFailed' | 'Failed';
  startedAt: string;
  finishedAt: string;
  nominalTime: string;
  bytes: number;
  keys: number;
  sha256?: string;
  revision?: string;
  volumes: VolumeResult[];
  error?: string;
  workflowId?: string;
  runId?: string;
  /** Which engine took the state (absent in records written before the request engine: direct). */
  engine?: SnapshotEngine;
  /** The archive is encrypted (age) to these recipients; `sha256` and `bytes` are of the stored, encrypted bytes. */
  encryption?: ArchiveEncryption;
  /** The worker's HMAC over the rest of the record (lib/record-signature): retention trusts only signed volume handles. */
  signature?: string;
  /** The last restore drill of this snapshot (written by the drill; outside the signature, retention never reads it). */
  drill?: DrillSummary;
  /** The Object Lock the archive and this record were written with (retention reads the server's, not this). */
  lock?: ObjectLock;
  /** The copy in the policy's second location. */
  copy?: SnapshotCopy;
}

export const statusQuery = defineQuery<SnapshotStatusView>('status');

/** Sent by the dump activity every few seconds, so `status` shows growing counts during a long dump. */
export interface DumpProgress {
  keys: number;
  /** Raw value bytes read so far (the final `bytesWritten` is the archive size). */
  bytes: number;
  /** True while the dump waits for a dump slot (VCSNAP_MAX_CONCURRENT_DUMPS); the activity's first signal clears it. */
  waitingForSlot?: boolean;
  /** Request engine: the vCluster request's phase ('' until the vCluster picks it up). */
  requestPhase?: string;
}
export const dumpProgressSignal = defineSignal<[DumpProgress]>('dumpProgress');

/** Sent by a volume child to its parent snapshot when it starts cleaning up, so the parent's status shows that phase. */
export interface VolumePhaseUpdate {
  pvc: string;
  phase: Extract<VolumePhase, 'CompletedCleaningUp' | 'FailedCleaningUp'>;
  reason?: string;
}
export const volumePhaseSignal = defineSignal<[VolumePhaseUpdate]>('volumePhase');

export const SEARCH_ATTRIBUTES = {
  clusterName: defineSearchAttributeKey('VclusterName', SearchAttributeType.KEYWORD),
  clusterNamespace: defineSearchAttributeKey('VclusterNamespace', SearchAttributeType.KEYWORD),
  snapshotStatus: defineSearchAttributeKey('SnapshotStatus', SearchAttributeType.KEYWORD),
  /** On a cluster's schedule: a digest of what vcsnap last applied to it, so `sync` can compare from one listing. */
  appliedPolicy: defineSearchAttributeKey('VcsnapAppliedPolicy', SearchAttributeType.KEYWORD),
} as const;

/** `name=type` pairs for `temporal server start-dev --search-attribute` and `operator search-attribute create`. */
export const SEARCH_ATTRIBUTE_REGISTRATIONS: ReadonlyArray<{ name: string; type: 'Keyword' }> = Object.values(
  SEARCH_ATTRIBUTES,
).map((key) => ({ name: key.name, type: 'Keyword' as const }));

export interface RetentionReport {
  deleted: string[];
  failed: { name: string; reason: string }[];
  /** Snapshots retention would prune but left, because their Object Lock has not expired (kept until `until`). */
  locked?: { name: string; until: string; mode: string; location: string }[];
  /** The same pruning in the copy location. */
  copy?: { deleted: string[]; failed: { name: string; reason: string }[] };
}
