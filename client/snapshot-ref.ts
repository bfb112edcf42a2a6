// Snapshot references as users write them -> where the archive is: a catalog name (`<cluster>-<timestamp>`) with its
// cluster's storage location, vCluster's `s3://bucket/prefix/name.tar.gz?options` URL, an
// `oci://registry/repository:tag` reference, the file store's `container:///dir/name.tar.gz`, or vCluster's Azure form,
// the blob's own URL `https://account.blob.core.windows.net/container/dir/name.tar.gz`.
// Only references leave here: a URL's inline credentials are refused, credentials come from a Secret reference.
import type { ClusterRef, SecretRef, StorageLocation } from '../contracts/definitions';
import { nominalTimeOf } from '../contracts/naming';
import type { SnapshotLocationRef } from '../contracts/restore';
import { parseAzureBlobUrl } from '../lib/policy/azure-url';
import { parseOciRepository } from '../lib/policy/oci-url';
import { parseS3Url } from '../lib/policy/s3-url';

export interface SnapshotRefOptions {
  /** For a catalog name: the storage location of the cluster's snapshots (e.g. its policy's `storage`). */
  storage?: StorageLocation;
  /** The cluster the snapshot belongs to: its grants decide which Secrets the reference may name. */
  cluster?: ClusterRef;
  /**
   * For a URL: the Secret with the storage credentials (S3: AWS_ACCESS_KEY_ID/..., OCI: username/password, Azure:
   * AZURE_STORAGE_KEY or AZURE_STORAGE_BLOB_SAS).
   */
  credential?: SecretRef;
}

export type SnapshotRefResult = { ok: true; ref: SnapshotLocationRef } | { ok: false; reasons: string[] };

const ARCHIVE_SUFFIX = '.tar.gz';
// The storage backends' snapshot-name alphabet (OCI tags).
const SNAPSHOT_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,122}$/;

/** `demo-2026-11-23T12-00-00Z` -> `demo`; undefined when the name does not end in a snapshot timestamp. */
export function clusterNameOf(snapshotName: string): string | undefined {
  return nominalTimeOf(snapshotName) ? snapshotName.replace(/-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z$/, '') : undefined;
}

export function isSnapshotUrl(text: string): boolean {
  return /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(text.trim());
}

export function parseSnapshotRef(input: string, options: SnapshotRefOptions = {}): SnapshotRefResult {
  const text = input.trim();
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text)?.[1]?.toLowerCase();
  if (scheme === undefined) return catalogRef(text, options);
  const located: SnapshotRefResult =
    scheme === 's3' ? s3Ref(text, options.credential)
    : scheme === 'oci' ? ociRef(text, options.credential)
    : scheme === 'container' ? containerRef(text)
    : scheme === 'https' || scheme === 'http' ? azureRef(text, options.credential)
    : ({ ok: false, reasons: [`unsupported scheme "${scheme}": use a catalog name, s3://bucket/prefix/name.tar.gz, oci://registry/repository:tag, container:///dir/name.tar.gz or https://account.blob.core.windows.net/container/dir/name.tar.gz`] });
  // A URL names no cluster by itself: the one given decides whose Secret grants apply.
  return located.ok && options.cluster ? { ok: true, ref: { ...located.ref, cluster: options.cluster } } : located;
}

function named(snapshotName: string, storage: StorageLocation, cluster?: ClusterRef): SnapshotRefResult {
  if (!SNAPSHOT_NAME.test(snapshotName) || snapshotName.endsWith('.meta')) {
    return { ok: false, reasons: [`invalid snapshot name ${JSON.stringify(snapshotName)}: letters, digits, '.', '_' and '-', at most 123 characters`] };
  }
  return { ok: true, ref: { storage, snapshotName, ...(cluster ? { cluster } : {}) } };
}

function catalogRef(name: string, options: SnapshotRefOptions): SnapshotRefResult {
  if (!options.storage) {
    return { ok: false, reasons: [`"${name}" is a catalog name: give its cluster's storage location (or policy), or use an s3://, oci:// or container:// reference`] };
  }
  return named(name, options.storage, options.cluster);
}

/** Splits `scheme://location/last?query` into the location, the last path component and the query. */
function splitLast(text: string): { base: string; last: string; query: string } | undefined {
  const [path, query = ''] = text.replace(/#.*$/s, '').split(/\?(.*)/s);
  const slash = path.lastIndexOf('/');
  if (slash <= path.indexOf('://') + 2) return undefined;
  return { base: path.slice(0, slash), last: path.slice(slash + 1), query };
}

function archiveName(component: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(component);
  } catch {
    return undefined;
  }
  // The encrypted form `<name>.tar.gz.age` names the same snapshot (the stores find either).
  if (decoded.endsWith(`${ARCHIVE_SUFFIX}.age`)) return decoded.slice(0, -`${ARCHIVE_SUFFIX}.age`.length);
  return decoded.endsWith(ARCHIVE_SUFFIX) ? decoded.slice(0, -ARCHIVE_SUFFIX.length) : undefined;
}

function s3Ref(text: string, credential?: SecretRef): SnapshotRefResult {
  const parts = splitLast(text);
  const snapshotName = parts && archiveName(parts.last);
  if (!parts || snapshotName === undefined) return { ok: false, reasons: [`an s3:// reference must name the archive: s3://bucket/prefix/<name>${ARCHIVE_SUFFIX}`] };
  const parsed = parseS3Url(parts.query ? `${parts.base}?${parts.query}` : parts.base);
  if (!parsed.ok) return parsed;
  if (parsed.target.inlineCredentialsInUrl) {
    return { ok: false, reasons: ['the s3:// reference carries credentials (access-key-id/secret-access-key/session-token): they are not sent anywhere; reference a Secret instead'] };
  }
  return named(snapshotName, { type: 's3', ...parsed.target, ...(credential ? { credential } : {}) });
}

function ociRef(text: string, credential?: SecretRef): SnapshotRefResult {
  const parts = splitLast(text);
  if (!parts) return { ok: false, reasons: ['an oci:// reference must name the snapshot: oci://registry/repository:<name>'] };
  if (parts.last.includes('@')) return { ok: false, reasons: ['an oci:// reference must use the snapshot tag (oci://registry/repository:<name>), not a digest'] };
  const colon = parts.last.lastIndexOf(':');
  if (colon < 0) return { ok: false, reasons: ['an oci:// reference must name the snapshot with its tag: oci://registry/repository:<name>'] };
  const repository = `${parts.base}/${parts.last.slice(0, colon)}`;
  const parsed = parseOciRepository(parts.query ? `${repository}?${parts.query}` : repository);
  if (!parsed.ok) return parsed;
  const { insecure, ...where } = parsed.target;
  return named(parts.last.slice(colon + 1), { type: 'oci', ...where, ...(insecure ? { insecure } : {}), ...(credential ? { credential } : {}) });
}

/** vCluster's Azure URL: the blob itself. A SAS in the query is refused like S3 inline keys: it belongs in a Secret. */
function azureRef(text: string, credential?: SecretRef): SnapshotRefResult {
  const parts = splitLast(text);
  const snapshotName = parts && archiveName(parts.last);
  if (!parts || snapshotName === undefined) {
    return { ok: false, reasons: [`an Azure Blob reference must name the archive: https://account.blob.core.windows.net/container/dir/<name>${ARCHIVE_SUFFIX}`] };
  }
  const parsed = parseAzureBlobUrl(parts.query ? `${parts.base}?${parts.query}` : parts.base);
  if (!parsed.ok) return parsed;
  if (!credential) return { ok: false, reasons: ['an Azure Blob reference needs a credential Secret (AZURE_STORAGE_KEY or AZURE_STORAGE_BLOB_SAS)'] };
  return named(snapshotName, { type: 'azure', ...parsed.target, credential });
}

function containerRef(text: string): SnapshotRefResult {
  const parts = splitLast(text);
  const snapshotName = parts && archiveName(parts.last);
  const directory = parts && (parts.base.slice('container://'.length) || '/');
  if (!parts || snapshotName === undefined || !directory?.startsWith('/')) {
    return { ok: false, reasons: [`a container:// reference must name the archive by its absolute path: container:///dir/<name>${ARCHIVE_SUFFIX}`] };
  }
  return named(snapshotName, { type: 'container', path: directory });
}
