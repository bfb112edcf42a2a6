// Decompression bombs for the bounded-reading tests: about 10 MiB of gzip that expands to 10 GiB of tar, written in
// seconds without deflating 10 GiB. gzip members concatenate (their outputs join), so one member of compressed zeros
// is written again and again between tiny members holding the tar headers.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
// tar-stream's header encoder (base-256 sizes beyond 8 GiB, as the extractor reads them); its package exports and
// typings leave it out, so it is loaded by path.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const headers = require(join(dirname(require.resolve('tar-stream')), 'headers.js')) as {
  encode(opts: { name: string; size: number; mode: number; uid: number; gid: number; type: string; mtime: Date; uname: string; gname: string }): Buffer;
};

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

function header(name: string, size: number): Buffer {
  return headers.encode({ name, size, mode: 0o644, uid: 0, gid: 0, type: 'file', mtime: new Date(0), uname: '', gname: '' });
}

async function writeMembers(path: string, members: Iterable<Buffer>): Promise<number> {
  const out = createWriteStream(path);
  let bytes = 0;
  for (const member of members) {
    bytes += member.length;
    if (!out.write(member)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return bytes;
}

/** One entry whose header claims 10 GiB, followed by 10 GiB of zeros. Returns the file's size. */
export function oneHugeEntryBomb(path: string): Promise<number> {
  const zeros = gzipSync(Buffer.alloc(64 * MiB), { level: 9 });
  return writeMembers(path, (function* () {
    yield gzipSync(header('/registry/bomb/huge', 10 * GiB));
    for (let i = 0; i < (10 * GiB) / (64 * MiB); i++) yield zeros;
  })());
}

/** 10,240 entries of 1 MiB of zeros each, in the order a snapshot keeps its keys. Returns the file's size. */
export function manyEntriesBomb(path: string): Promise<number> {
  const zeros = gzipSync(Buffer.alloc(MiB), { level: 9 });
  return writeMembers(path, (function* () {
    for (let i = 0; i < 10 * 1024; i++) {
      yield gzipSync(header(`/registry/bomb/${String(i).padStart(6, '0')}`, MiB));
      yield zeros;
    }
  })());
}
