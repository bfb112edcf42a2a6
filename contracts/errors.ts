// The product's one error vocabulary: every ApplicationFailure type the code throws, whether a retry can help, and
// the helpers that build and unwrap failures. Workflows derive their non-retryable lists from this table, so the
// place that throws and the retry policy that catches can never disagree. Deterministic: workflows import it.
import { ApplicationFailure } from '@temporalio/common';

interface ErrorKind {
  /** False: the same call cannot succeed until someone changes something (config, credentials, RBAC, data). */
  retryable: boolean;
}

export const ERROR_TYPES = {
  // Storage backends (lib/storage).
  StorageBadCredentials: { retryable: false },
  StorageLocationNotFound: { retryable: false },
  StorageBadConfiguration: { retryable: false },
  StorageObjectNotFound: { retryable: false },
  // An archive or record already stored under the snapshot's name by another cluster or run: never overwritten.
  SnapshotNameTaken: { retryable: false },
  // A transfer (etcd -> archive -> storage, or an archive read back) moved no byte for the worker's stall timeout
  // (VCSNAP_TRANSFER_STALL_TIMEOUT): the attempt fails and the next one starts on fresh connections.
  TransferStalled: { retryable: true },
  // Host cluster (lib/kube).
  SecretNotFound: { retryable: false },
  SecretNotGranted: { retryable: false },
  EndpointNotGranted: { retryable: false },
  CredentialEndpointNotAllowed: { retryable: false },
  KubeForbidden: { retryable: false },
  KubeUnavailable: { retryable: false },
  // etcd (lib/etcd): reading a cluster's state and writing a restore.
  EtcdUnreachable: { retryable: true },
  EtcdBadCredentials: { retryable: false },
  EtcdRevisionCompacted: { retryable: true },
  EtcdReadFailed: { retryable: true },
  EtcdUnsupportedKey: { retryable: false },
  EtcdRequestTooLarge: { retryable: false },
  EtcdWriteFailed: { retryable: true },
  StateSourceUnavailable: { retryable: false },
  // Restore.
  RestoreTargetNotEmpty: { retryable: false },
  SnapshotCorrupt: { retryable: false },
  /** vCluster's embedded-etcd kind (an etcd database): a running etcd cannot take it. */
  SnapshotNotRestorable: { retryable: false },
  /** An encrypted (age) archive and no identity that opens it on this worker (none configured, or not the right one). */
  EncryptionKeyUnavailable: { retryable: false },
  // Restore drills (lib/drill): the scratch etcd or kube-apiserver the worker starts for a drill.
  DrillEnvironmentUnavailable: { retryable: false },
  DrillServerFailed: { retryable: true },
  // Alerts (lib/notify): the webhook answered 4xx, so the same request cannot succeed.
  AlertRejected: { retryable: false },
  // Volume snapshots (lib/kube/csi).
  VolumeSnapshotFailed: { retryable: false },
  VolumeSnapshotNotReleased: { retryable: true },
  // The request engine (lib/vcluster): the vCluster control plane takes the snapshot.
  VclusterRequestFailed: { retryable: false },
  VclusterRequestNotPickedUp: { retryable: false },
  VclusterTooOld: { retryable: false },
  // Outcomes of whole workflows.
  VolumesFailed: { retryable: false },
  SnapshotFailed: { retryable: false },
} as const satisfies Record<string, ErrorKind>;

export type ErrorType = keyof typeof ERROR_TYPES;

/** Every type no retry can fix: the `nonRetryableErrorTypes` of every activity and child the workflows call. */
export const NON_RETRYABLE_ERROR_TYPES: ErrorType[] = (Object.keys(ERROR_TYPES) as ErrorType[]).filter((type) => !ERROR_TYPES[type].retryable);

/** A failure of `type`, retryable or not as the table says; `cause` is kept as its cause. */
export function failure(type: ErrorType, message: string, cause?: unknown): ApplicationFailure {
  const asError = cause === undefined || cause instanceof Error ? cause : new Error(String(cause));
  return ApplicationFailure.create({ type, message, nonRetryable: !ERROR_TYPES[type].retryable, cause: asError });
}

/** `err` as a final failure: the caller knows that retrying this one only delays the reason. */
export function finalFailure(err: ApplicationFailure): ApplicationFailure {
  return ApplicationFailure.create({ type: err.type ?? undefined, message: err.message, nonRetryable: true, cause: err.cause });
}

/**
 * The failure that says what happened: activity and child-workflow failures wrap it, so unwrap them down to the
 * first ApplicationFailure (whose message already ends with its own cause's), or else to the innermost error.
 */
export function rootCause(err: unknown): unknown {
  let current = err;
  while (current instanceof Error && !(current instanceof ApplicationFailure) && current.cause instanceof Error) current = current.cause;
  return current;
}

/** The message of rootCause(err). */
export function rootMessage(err: unknown): string {
  const root = rootCause(err);
  return root instanceof Error ? root.message : String(root);
}
