// `vcsnap export`: a stored snapshot as the plain `.tar.gz` that `vcluster restore` (and `tar -tz`) read, decrypted
// here when it is encrypted. It runs where it is called, not on the worker: the archive would not fit through
// Temporal, and the identity (private key) stays with the person restoring (an identity file, as `age -d -i` takes,
// or the identity Secret read with their own kubeconfig). The archive's stored bytes are checked against its record's
// sha256, every age chunk is authenticated, and the plain archive written is verified before it takes its name.
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { SecretRef, StorageLocation } from '../contracts/definitions';
import type { SnapshotLocationRef } from '../contracts/restore';
import { decryptingStream, parseIdentities, type IdentitySource } from '../lib/archive/encryption';
import { verifyArchive } from '../lib/archive/verify';
import { pick, readSecret } from '../lib/kube/secrets';
import { loadKubeConfig } from '../lib/runtime-config';
import { createStore, type StorageCredentials } from '../lib/storage';
import { digesting } from '../lib/storage/common';
import { SnapshotActionError } from './restore';

export interface ExportOptions {
  /** Where the plain archive goes (`<name>.tar.gz`); written beside it first, then renamed. */
  output: string;
  /** An age identity file (`AGE-SECRET-KEY-1...` lines), as `age -d -i FILE` takes. */
  identityFile?: string;
  /** Or the worker's identity Secret (key `identities`), read with the caller's kubeconfig. */
  identitySecret?: SecretRef;
}

export interface ExportResult {
  snapshotName: string;
  output: string;
  /** The stored archive was encrypted (and was decrypted here). */
  decrypted: boolean;
  /** The stored bytes, and the plain archive written. */
  storedBytes: number;
  storedSha256: string;
  bytes: number;
  sha256: string;
  keys: number;
}

/** The storage credentials a reference's Secret holds, under the names vCluster (and the worker) read. */
async function credentialsOf(storage: StorageLocation): Promise<StorageCredentials | undefined> {
  const ref = 'credential' in storage ? storage.credential : undefined;
  if (!ref) return undefined;
  const data = await readSecret(loadKubeConfig(), ref, 'export', { namespace: ref.namespace, sharedNamespaces: [] });
  const text = (keys: string[], optional = false) => pick(data, ref, keys, optional)?.toString('utf8').trim();
  switch (storage.type) {
    case 's3':
      return { accessKeyId: text(['AWS_ACCESS_KEY_ID'])!, secretAccessKey: text(['AWS_SECRET_ACCESS_KEY'])!, sessionToken: text(['AWS_SESSION_TOKEN'], true) || undefined };
    case 'oci':
      return { username: text(['username'])!, password: text(['password'])! };
    case 'azure': {
      const accountKey = text(['AZURE_STORAGE_KEY'], true);
      return accountKey ? { accountKey } : { sasToken: text(['AZURE_STORAGE_BLOB_SAS'])!.replace(/^\?/, '') };
    }
    default:
      return undefined;
  }
}

function identitiesOf(options: ExportOptions): IdentitySource | undefined {
  const { identityFile, identitySecret } = options;
  if (identityFile) return async () => parseIdentities(await readFile(identityFile, 'utf8'), `identity file ${identityFile}`);
  if (identitySecret) {
    return async () => {
      const data = await readSecret(loadKubeConfig(), identitySecret, 'export', { namespace: identitySecret.namespace, sharedNamespaces: [] });
      return parseIdentities(pick(data, identitySecret, ['identities'])!.toString('utf8'), `Secret ${identitySecret.namespace}/${identitySecret.name} (key identities)`);
    };
  }
  return undefined;
}

/** Writes `snapshot` as a plain, verified `.tar.gz` to `options.output`. */
export async function exportSnapshot(snapshot: SnapshotLocationRef, options: ExportOptions): Promise<ExportResult> {
  const store = createStore(snapshot.storage, await credentialsOf(snapshot.storage));
  const { snapshotName } = snapshot;
  const what = `snapshot ${snapshotName}`;
  const record = await store.getRecord(snapshotName).catch(() => undefined);
  const stored = digesting(await store.getArchive(snapshotName));
  const partial = `${options.output}.partial`;
  try {
    await pipeline(stored.stream, decryptingStream(identitiesOf(options), what), createWriteStream(partial, { mode: 0o600 }));
    const storedDigest = stored.result();
    if (record?.sha256 && record.sha256 !== storedDigest.sha256) {
      throw new SnapshotActionError(`${what}: the stored archive's sha256 ${storedDigest.sha256} does not match its record's ${record.sha256}: it was changed after it was written`, 'SnapshotCorrupt');
    }
    const report = await verifyArchive(createReadStream(partial));
    if (!report.ok) throw new SnapshotActionError(`${what}: the exported archive does not verify: ${report.problem?.message}`, 'SnapshotCorrupt');
    await rename(partial, options.output);
    return {
      snapshotName,
      output: options.output,
      decrypted: report.archiveBytes !== storedDigest.bytes || report.sha256 !== storedDigest.sha256,
      storedBytes: storedDigest.bytes,
      storedSha256: storedDigest.sha256,
      bytes: report.archiveBytes,
      sha256: report.sha256,
      keys: report.keys,
    };
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
}
