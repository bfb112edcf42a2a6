// The one small interface every storage backend implements (S3, OCI registry, local directory, Azure Blob).
import type { Readable } from 'node:stream';
import type { ClusterRef, ObjectLock, SnapshotRecord } from '../../contracts/definitions';

export interface StoredObject {
  /** Snapshot name without extension, e.g. `demo-2026-11-23T12-00-00Z`. */
  snapshotName: string;
  /**
   * vCluster-style URL: `s3://bucket/prefix/name.tar.gz`, `oci://registry/repo:tag`, `container:///dir/name.tar.gz`,
   * `https://account.blob.core.windows.net/container/prefix/name.tar.gz` (Azure Blob).
   */
  url: string;
  bytes: number;
  /** sha256 of the archive bytes, hex. */
  sha256: string;
}

/**
 * Who wrote an archive: the cluster and the workflow (one schedule fire or one ad-hoc run) it belongs to. Stored with
 * the archive (S3 object metadata, OCI manifest annotations, a hidden file beside it in a directory), so a retried
 * attempt of the same run recognises its own archive and another cluster's run sees that the name is taken.
 */
export interface ArchiveOwner {
  cluster: ClusterRef;
  workflowId: string;
}

export interface PutArchiveOptions {
  /** Stored with the archive; see ArchiveOwner. */
  owner?: ArchiveOwner;
  /** Upload sessions an earlier, killed attempt of this snapshot may have left open; cancelled before uploading. */
  abandonedSessions?: string[];
  /**
   * This is a retry: an earlier attempt may have left unfinished uploads of this name that it could not report (S3
   * multipart uploads, partial files), removed before uploading. A first attempt removes nothing, so two clusters
   * writing the same name at once never cancel each other (the conditional commit decides between them).
   */
  retry?: boolean;
  /** Called with the id of a server-side upload session once it exists (no secrets in it), to be kept durably. */
  onSession?: (session: string) => void;
  /** Called as the backend confirms stored bytes, so a long upload can heartbeat after the dump has ended. */
  onStored?: (bytes: number) => void;
  /** The stream is an age-encrypted archive: stored as `<name>.tar.gz.age` (OCI: its own layer media type). */
  encrypted?: boolean;
  /** Write the archive under this Object Lock (backends with `objectLock` only; check `objectLockEnabled` first). */
  lock?: ObjectLock;
}

export interface PutRecordOptions {
  /** Whether a stored record of another run may be replaced (default: never). */
  replaces?: (existing: SnapshotRecord) => boolean;
  /** Write the record under this Object Lock (as PutArchiveOptions.lock). */
  lock?: ObjectLock;
}

/** What a location says about Object Lock: whether the bucket has it (`reason` says why not, or why it cannot tell). */
export interface ObjectLockSupport {
  enabled: boolean;
  reason?: string;
}

export interface ArchiveListing {
  snapshotName: string;
  url: string;
  bytes?: number;
  lastModified?: string;
  /** Stored encrypted (`.tar.gz.age`). */
  encrypted?: boolean;
}

export interface SnapshotStore {
  /** vCluster-style URL the archive named `snapshotName` has (or would have) in this store; `encrypted`: its `.age` form. */
  urlFor(snapshotName: string, encrypted?: boolean): string;
  /**
   * Stores the archive stream atomically: it becomes visible only once complete; on failure or abort nothing is
   * left behind (no partial object, no pending multipart upload, no orphan blob upload session).
   * `signal` aborts the upload (activity cancellation). A process killed mid-upload cannot clean up after itself, so
   * the next attempt does: S3 aborts pending multipart uploads of the same key, OCI cancels the sessions in
   * `options.abandonedSessions` (reported by the killed attempt through `onSession`, kept in its heartbeats).
   * An encrypted archive (`options.encrypted`) is stored under its own name; a name holds one archive, plain or not.
   * Never replaces an archive: when one already exists under the name at commit time (another cluster sharing the
   * location, or a stale attempt that finished first), it throws `SnapshotNameTaken` and the stored one stays.
   */
  putArchive(snapshotName: string, archive: Readable, signal?: AbortSignal, options?: PutArchiveOptions): Promise<StoredObject>;
  /**
   * Who wrote the stored archive (`owner` undefined when it carries no identity, e.g. one the product did not take),
   * or undefined when there is no archive under the name. Optional for a backend that cannot say.
   */
  archiveOwner?(snapshotName: string): Promise<{ owner?: ArchiveOwner } | undefined>;
  /** Metadata and size of a stored archive (plain or encrypted), or undefined when it does not exist. */
  headArchive(snapshotName: string): Promise<{ bytes: number; encrypted?: boolean } | undefined>;
  /** Streams a stored archive back. Throws an `ApplicationFailure` of type `StorageObjectNotFound` when missing. */
  getArchive(snapshotName: string): Promise<Readable>;
  /** Every archive under the location (including ones the product did not take). */
  listArchives(): Promise<ArchiveListing[]>;
  deleteArchive(snapshotName: string): Promise<void>;

  /**
   * The metadata record beside the archive. Creates it, or replaces the stored one only when it is the same run's
   * (same cluster and workflow) or `options.replaces` accepts it; otherwise throws `SnapshotNameTaken`.
   */
  putRecord(record: SnapshotRecord, options?: PutRecordOptions): Promise<void>;
  getRecord(snapshotName: string): Promise<SnapshotRecord | undefined>;
  listRecords(): Promise<SnapshotRecord[]>;
  deleteRecord(snapshotName: string): Promise<void>;
  /** Releases the backend's clients (sockets); the store is not used afterwards. */
  close?(): void;

  /** Object Lock (S3 only): whether the bucket has it configured, so a locked write can succeed. */
  objectLockSupport?(): Promise<ObjectLockSupport>;
  /**
   * The latest end of any lock on the snapshot's archive or record (every stored version), as the server says, or
   * undefined when nothing of it is locked. A snapshot still locked cannot be pruned (the delete would be refused).
   */
  lockedUntil?(snapshotName: string, now: Date): Promise<ObjectLock | undefined>;
  /** Puts an Object Lock on an archive stored without one (vCluster's, under the request engine). */
  lockArchive?(snapshotName: string, lock: ObjectLock): Promise<void>;
}

/** Resolved S3 credentials (from a Secret or inline URL options); undefined means the AWS default chain. */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Resolved OCI registry credentials; undefined means anonymous. */
export interface RegistryCredentials {
  username: string;
  password: string;
}

/** Resolved Azure Blob credentials: the storage account key, or a SAS token (the query string, without '?'). */
export type AzureCredentials = { accountKey: string } | { sasToken: string };

export type StorageCredentials = S3Credentials | RegistryCredentials | AzureCredentials;

