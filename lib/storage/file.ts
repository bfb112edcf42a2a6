// Directory backend (vCluster's `container` storage): `<dir>/<name>.tar.gz` and `<dir>/<name>.json`, each written
// to a hidden `.<file>.partial-<random>` first, fsynced, then moved into place, so a reader never sees a torn file.
// An archive is moved in with link(2), which fails when the name exists: a stale attempt or another cluster sharing
// the directory never replaces it. Its owner is in a hidden `.<name>.tar.gz.owner` file beside it.
// URL form: `container://` + absolute path, e.g. `container:///data/snapshots/demo-2026-11-23T12-00-00Z.tar.gz`
// (the same form `vcluster snapshot create` accepts).
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, mkdir, open, readFile, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import type { FileLocation } from '../../contracts/definitions';
import {
  ARCHIVE_SUFFIX,
  ARCHIVE_SUFFIXES,
  RECORD_SUFFIX,
  archiveSuffix,
  archiveSuffixOf,
  assertSnapshotName,
  badConfiguration,
  digesting,
  errorMessage,
  mayReplaceRecord,
  nameTaken,
  objectNotFound,
  ownerFields,
  ownerOf,
  parseRecord,
  recordOwner,
  serializeRecord,
} from './common';
import { mapLimit } from '../concurrency';
import type { ArchiveListing, ArchiveOwner, SnapshotStore, StoredObject } from './types';

const OWNER_SUFFIX = '.owner';

/** The target exists: link(2) refused to replace it. */
class TargetExists extends Error {}

export function createFileStore(location: FileLocation): SnapshotStore {
  const dir = resolve(location.path);
  const pathOf = (snapshotName: string, suffix: string): string => {
    assertSnapshotName(snapshotName);
    return join(dir, snapshotName + suffix);
  };
  const urlOf = (path: string): string => `container://${path}`;

  const ownerPath = (snapshotName: string): string => join(dir, `.${snapshotName}${ARCHIVE_SUFFIX}${OWNER_SUFFIX}`);
  const readOwner = async (snapshotName: string): Promise<ArchiveOwner | undefined> => {
    const text = await readFile(ownerPath(snapshotName), 'utf8').catch(() => undefined);
    try {
      return text === undefined ? undefined : ownerOf(JSON.parse(text) as Record<string, string>);
    } catch {
      return undefined;
    }
  };

  /**
   * Writes `chunks` to a partial file, fsyncs it, moves it to `target`; removes the partial file on failure.
   * `exclusive`: link instead of rename, throwing TargetExists when `target` is there. `removeAbandoned`: first
   * remove partial files of `target` left by a writer killed mid-write (kill -9, node lost).
   */
  const writeAtomically = async (target: string, chunks: AsyncIterable<Uint8Array> | Uint8Array, mode: { exclusive?: boolean; removeAbandoned?: boolean } = {}): Promise<void> => {
    await mkdir(dir, { recursive: true }).catch((err: unknown) => {
      throw fsFailure(err, `create snapshot directory ${dir}`);
    });
    const partialPrefix = `.${basename(target)}.partial-`;
    if (mode.removeAbandoned !== false) {
      const abandoned = (await readdir(dir).catch((): string[] => [])).filter((name) => name.startsWith(partialPrefix));
      await Promise.all(abandoned.map((name) => rm(join(dir, name), { force: true })));
    }
    const partial = join(dir, `${partialPrefix}${randomBytes(6).toString('hex')}`);
    const handle = await open(partial, 'wx').catch((err: unknown) => {
      throw fsFailure(err, `write into ${dir}`);
    });
    try {
      try {
        if (chunks instanceof Uint8Array) await writeAll(handle, chunks);
        else for await (const chunk of chunks) await writeAll(handle, chunk);
        await handle.sync();
      } finally {
        await handle.close();
      }
      if (mode.exclusive) {
        await link(partial, target).catch((err: NodeJS.ErrnoException) => {
          throw err.code === 'EEXIST' ? new TargetExists(target) : err;
        });
        await rm(partial, { force: true });
      } else {
        await rename(partial, target);
      }
    } catch (err) {
      await rm(partial, { force: true });
      throw err;
    }
    await syncDirectory(dir);
  };

  /** The stored archive of `snapshotName`, plain or encrypted. */
  const findArchive = async (snapshotName: string) => {
    for (const suffix of ARCHIVE_SUFFIXES) {
      const path = pathOf(snapshotName, suffix);
      const stats = await statOrUndefined(path);
      if (stats) return { path, stats, encrypted: suffix !== ARCHIVE_SUFFIX };
    }
    return undefined;
  };

  const listNames = async (suffix: string): Promise<string[]> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw fsFailure(err, `list ${dir}`);
    });
    return entries
      .filter((e) => e.isFile() && !e.name.startsWith('.') && e.name.endsWith(suffix))
      .map((e) => e.name.slice(0, -suffix.length))
      .sort();
  };

  const store: SnapshotStore = {
    urlFor: (snapshotName, encrypted) => urlOf(pathOf(snapshotName, archiveSuffix(encrypted))),

    async putArchive(snapshotName, archive, signal, options = {}): Promise<StoredObject> {
      const path = pathOf(snapshotName, archiveSuffix(options.encrypted));
      const body = digesting(archive, signal);
      let wroteOwner = false;
      try {
        // The name's other form (plain or encrypted) holds an archive: the name is taken all the same.
        const other = await findArchive(snapshotName);
        if (other && other.path !== path) throw new TargetExists(other.path);
        // The owner file goes first, so an archive never appears without it; it is replaced only while the archive
        // is absent, and a loser of the race below leaves the winner's owner file alone.
        if (options.owner && !other) {
          await writeAtomically(ownerPath(snapshotName), Buffer.from(JSON.stringify(ownerFields(options.owner))), { removeAbandoned: !!options.retry });
          wroteOwner = true;
        }
        await writeAtomically(path, body.stream, { exclusive: true, removeAbandoned: !!options.retry });
      } catch (err) {
        body.stream.destroy();
        if (wroteOwner && !(err instanceof TargetExists) && !(await statOrUndefined(path))) await rm(ownerPath(snapshotName), { force: true });
        if (signal?.aborted) throw signal.reason;
        if (err instanceof TargetExists) throw nameTaken('archive', urlOf(err.message), await readOwner(snapshotName));
        throw err;
      }
      return { snapshotName, url: urlOf(path), ...body.result() };
    },

    async archiveOwner(snapshotName) {
      if (!(await findArchive(snapshotName))) return undefined;
      return { owner: await readOwner(snapshotName) };
    },

    async headArchive(snapshotName) {
      const found = await findArchive(snapshotName);
      return found && { bytes: found.stats.size, ...(found.encrypted ? { encrypted: true } : {}) };
    },

    async getArchive(snapshotName): Promise<Readable> {
      const found = await findArchive(snapshotName);
      if (!found) throw objectNotFound(`snapshot archive ${urlOf(pathOf(snapshotName, ARCHIVE_SUFFIX))} does not exist`);
      return createReadStream(found.path);
    },

    async listArchives(): Promise<ArchiveListing[]> {
      const files = (await Promise.all(ARCHIVE_SUFFIXES.map(async (suffix) => (await listNames(suffix)).map((name) => name + suffix)))).flat();
      const listings = await mapLimit(files, 16, async (file) => {
        const suffix = archiveSuffixOf(file)!;
        const path = join(dir, file);
        const stats = await statOrUndefined(path);
        return stats && { snapshotName: file.slice(0, -suffix.length), url: urlOf(path), bytes: stats.size, lastModified: stats.mtime.toISOString(), ...(suffix !== ARCHIVE_SUFFIX ? { encrypted: true } : {}) };
      });
      return listings.filter((listing) => listing !== undefined).sort((a, b) => (a.snapshotName < b.snapshotName ? -1 : a.snapshotName > b.snapshotName ? 1 : 0));
    },

    async deleteArchive(snapshotName) {
      for (const suffix of ARCHIVE_SUFFIXES) await rm(pathOf(snapshotName, suffix), { force: true });
      await rm(ownerPath(snapshotName), { force: true });
    },

    async putRecord(record, options) {
      const path = pathOf(record.snapshotName, RECORD_SUFFIX);
      try {
        await writeAtomically(path, serializeRecord(record), { exclusive: true });
        return;
      } catch (err) {
        if (!(err instanceof TargetExists)) throw err;
      }
      const stored = await store.getRecord(record.snapshotName);
      if (stored && !mayReplaceRecord(stored, record, options)) throw nameTaken('metadata record', urlOf(path), recordOwner(stored));
      await writeAtomically(path, serializeRecord(record));
    },

    async getRecord(snapshotName) {
      const path = pathOf(snapshotName, RECORD_SUFFIX);
      const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw fsFailure(err, `read ${path}`);
      });
      return text === undefined ? undefined : parseRecord(text, path);
    },

    async listRecords() {
      const records = await mapLimit(await listNames(RECORD_SUFFIX), 16, (name) => store.getRecord(name));
      return records.filter((r) => r !== undefined);
    },

    async deleteRecord(snapshotName) {
      await rm(pathOf(snapshotName, RECORD_SUFFIX), { force: true });
    },
  };
  return store;
}

async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  for (let offset = 0; offset < chunk.length; ) {
    offset += (await handle.write(chunk, offset, chunk.length - offset)).bytesWritten;
  }
}

async function statOrUndefined(path: string): Promise<{ size: number; mtime: Date } | undefined> {
  return stat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
}

/** Makes the rename durable; some file systems refuse fsync on a directory, which is not worth failing for. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync().catch(() => undefined);
  } finally {
    await handle.close();
  }
}

/** Permission and read-only problems are the operator's to fix; anything else (e.g. a full disk) may pass. */
function fsFailure(err: unknown, action: string): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOTDIR') {
    return badConfiguration(`cannot ${action}: ${errorMessage(err)}`, err);
  }
  return err;
}
