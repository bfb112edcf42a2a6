// Verify and restore: the workflows' inputs and results, and what their activities report.
import { defineQuery } from '@temporalio/workflow';
import type { ClusterRef, SecretRef, SnapshotRecord, StorageLocation } from './definitions';

/** What verify says about a stored snapshot: the archive's report plus the checks against its metadata record. */
export interface VerifyResult extends VerifyReport {
  snapshotName: string;
  url: string;
  /** The metadata record beside the archive; absent for archives the product did not take. */
  record?: Pick<SnapshotRecord, 'status' | 'sha256' | 'keys' | 'bytes' | 'nominalTime'>;
}

export interface VerifyProblem {
  /**
   * `limit`: the archive exceeds a reading bound (an entry too large, or a decompression bomb); read no further.
   * `encryption`: an encrypted archive whose age header or an authenticated chunk does not check (changed bytes).
   */
  kind: 'gzip' | 'tar' | 'format' | 'digest' | 'record' | 'limit' | 'encryption';
  message: string;
  /** Byte of the stored (compressed) archive at or just after which the damage was detected. */
  compressedOffset?: number;
  /** Byte of the uncompressed tar stream, when known exactly. */
  tarOffset?: number;
  /** The entry at fault, or the last good one before unreadable data. */
  entry?: string;
}

export interface VerifyReport {
  ok: boolean;
  /**
   * `key-value`: keys and values (vcsnap's archives, vCluster's from an etcd or kine). `etcd-db`: vCluster's
   * embedded-etcd snapshot, one etcd database entry (`/vcluster/snapshot/db`), restorable only into a data dir.
   */
  kind?: 'key-value' | 'etcd-db';
  /** The revision entry's etcd revision, when the archive has one. */
  revision?: string;
  /** Size of the etcd database of an `etcd-db` archive. */
  databaseBytes?: number;
  /** The first problem; verification stops there. */
  problem?: VerifyProblem;
  /** Compressed bytes read, and their sha256 (of the whole archive only when it was read to the end). */
  archiveBytes: number;
  sha256: string;
  expectedSha256?: string;
  tarBytes: number;
  entries: number;
  /** etcd keys, not counting the entries under /vcluster/snapshot/. */
  keys: number;
  valueBytes: number;
  firstKey?: string;
  lastKey?: string;
  release?: { releaseName?: string; releaseNamespace?: string; chartName?: string; chartVersion?: string };
  request?: { name?: string; url?: string };
}

export interface RestoreArchiveInput {
  snapshot: SnapshotLocationRef;
  target: RestoreTarget;
  force: boolean;
  /** The digest verification saw: the archive restored must be the archive verified. */
  expectedSha256?: string;
  batch?: RestoreBatchLimits;
}

/** Heartbeat details: what earlier attempts already did. */
export interface RestoreProgress {
  /** The target was accepted (empty, or cleared with force): later attempts do not check or clear it again. */
  accepted: true;
  clearedKeys: number;
  /** Every archive key up to and including this one is in etcd. */
  lastKey?: string;
  keys: number;
  bytes: number;
}

export interface RestoreReport {
  snapshotName: string;
  endpoints: string[];
  keysRestored: number;
  bytesRestored: number;
  /** Archive entries not written: the entries under /vcluster/snapshot/ (release, request, revision, copies of them). */
  skippedEntries: number;
  /** Keys deleted from the target first (force). */
  clearedKeys: number;
  /** Set when this attempt continued the work of an earlier one. */
  resumedAfterKey?: string;
  /** Transactions of this attempt. */
  transactions: number;
}

/** Where one snapshot archive is: references only, never credentials (they are in `storage.credential`'s Secret). */
export interface SnapshotLocationRef {
  storage: StorageLocation;
  snapshotName: string;
  /** The cluster it was taken of, when known (messages only). */
  cluster?: ClusterRef;
}

/** The etcd a snapshot is restored into. */
export interface RestoreTarget {
  /** etcd v3 endpoints, e.g. `https://demo-etcd.team-a:2379`. */
  endpoints: string[];
  /** Secret with `etcd-ca.crt` and a client pair (vCluster's `<name>-certs`). */
  tlsSecret?: SecretRef;
}

/** Keys per etcd transaction and bytes per request; etcd's defaults allow 128 operations and 1.5 MiB. */
export interface RestoreBatchLimits {
  keys?: number;
  bytes?: number;
}

export interface VerifyWorkflowInput {
  snapshot: SnapshotLocationRef;
}

export interface RestoreWorkflowInput {
  snapshot: SnapshotLocationRef;
  target: RestoreTarget;
  /** Clear a non-empty target first (every key is deleted); without it a non-empty target is refused. */
  force?: boolean;
  batch?: RestoreBatchLimits;
}

export interface RestoreResult {
  verify: VerifyResult;
  restore: RestoreReport;
}

export interface RestoreStatusView {
  phase: 'verifying' | 'restoring' | 'done' | 'failed';
  snapshotName: string;
  verify?: VerifyResult;
  restore?: RestoreReport;
  error?: string;
}

export const restoreStatusQuery = defineQuery<RestoreStatusView>('restoreStatus');

/** `verifyWorkflow`'s and `restoreWorkflow`'s signatures, for clients that start them by name. */
export type VerifyWorkflow = (input: VerifyWorkflowInput) => Promise<VerifyResult>;
export type RestoreWorkflow = (input: RestoreWorkflowInput) => Promise<RestoreResult>;

/** Why vCluster's embedded-etcd kind is not written into an etcd, and how it is restored instead. */
export function notRestorableMessage(snapshotName: string, databaseBytes: number | undefined, into: string): string {
  return (
    `snapshot ${snapshotName} is vCluster's embedded-etcd kind: an etcd database (${databaseBytes === undefined ? '' : `${databaseBytes} bytes `}in /vcluster/snapshot/db), not keys, ` +
    `and a running etcd (${into}) cannot take a database over its API. Restore it with vCluster into its embedded etcd (\`vcluster restore\`), ` +
    'or extract /vcluster/snapshot/db and run `etcdutl snapshot restore` into a new data dir for an etcd to start on'
  );
}
