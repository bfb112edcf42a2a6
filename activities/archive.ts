// The snapshot archive: gzip (level 3) of one tar stream of regular-file entries, entry name = etcd key, body = raw
// value. Headers match vCluster's writeArchiveEntry (pkg/snapshot/client.go): Typeflag '0', mode 0666, mtime 0,
// uid/gid 0, no user/group names.
import type { Readable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { extract, pack, type Header } from 'tar-stream';

/** vCluster: "don't compress with default level as this can get quite cpu heavy". */
export const GZIP_LEVEL = 3;

const ENTRY_HEADER = { type: 'file', mode: 0o666, uid: 0, gid: 0, mtime: new Date(0) } as const;
const USTAR_NAME_LIMIT = 100;

export interface ArchiveWriter {
  /** The gzip output. Consume it while entries are added: addEntry and finish wait for the reader (backpressure). */
  readonly stream: Readable;
  /** Appends one regular-file entry; resolves once the pack has taken it without exceeding its buffer. */
  addEntry(name: string, body: Buffer): Promise<void>;
  /** Writes the end-of-archive blocks; resolves when every byte has gone through gzip. */
  finish(): Promise<void>;
  /** Fails the output stream, so a consumer (an upload) sees an error rather than a clean, truncated end. */
  abort(reason: Error): void;
}

export function createArchiveWriter(): ArchiveWriter {
  const tar = pack();
  const gzip = createGzip({ level: GZIP_LEVEL });
  let failure: Error | undefined;
  let flushed = false;
  const fail = (err: Error) => {
    failure ??= err;
    tar.destroy(failure);
    gzip.destroy(failure);
  };
  tar.on('error', fail);
  gzip.on('error', fail);
  // A consumer that gives up (an aborted upload) closes the output early: entries must then fail, not wait forever.
  gzip.on('close', () => flushed || fail(new Error('archive output closed before the archive was finished')));
  tar.pipe(gzip);
  const gzipFlushed = new Promise<void>((resolve, reject) => {
    gzip.once('finish', () => {
      flushed = true;
      resolve();
    });
    gzip.once('close', () => reject(failure));
  });
  gzipFlushed.catch(() => undefined);

  return {
    stream: gzip,
    addEntry(name, body) {
      if (failure) return Promise.reject(failure);
      // tar-stream's USTAR name/prefix split drops a leading '/' (every etcd key has one), so a name that does not
      // fit the 100-byte field goes to a PAX `path` record instead, as Go's archive/tar does for vCluster.
      const pax = Buffer.byteLength(name) > USTAR_NAME_LIMIT ? { pax: {} } : {};
      const header: Partial<Header> & Pick<Header, 'name'> = { ...ENTRY_HEADER, ...pax, name, size: body.length };
      return new Promise((resolve, reject) => {
        const sink = tar.entry(header, body, (err) => (err ? reject(failure ?? err) : resolve()));
        sink.on('error', () => undefined); // reported through the callback above
      });
    },
    finish() {
      if (failure) return Promise.reject(failure);
      tar.finalize();
      return gzipFlushed;
    },
    abort: fail,
  };
}

export interface ArchiveEntry {
  name: string;
  body: Buffer;
  header: Header;
}

/** Reads a tar.gz archive entry by entry (bodies are buffered one at a time). */
export async function* readArchiveEntries(archive: Readable): AsyncGenerator<ArchiveEntry> {
  const tar = extract();
  const gunzip = createGunzip();
  archive.on('error', (err: Error) => gunzip.destroy(err));
  gunzip.on('error', (err: Error) => tar.destroy(err));
  archive.pipe(gunzip).pipe(tar);
  try {
    for await (const entry of tar) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      yield { name: entry.header.name, body: Buffer.concat(chunks), header: entry.header };
    }
  } finally {
    archive.unpipe(gunzip);
    gunzip.destroy();
  }
}
