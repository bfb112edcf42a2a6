// The snapshot archive: gzip (level 3) of one tar stream of regular-file entries, entry name = etcd key, body = raw
// value. Headers match vCluster's writeArchiveEntry (pkg/snapshot/client.go): Typeflag '0', mode 0666, mtime 0,
// uid/gid 0, no user/group names. The writer encodes the tar itself, straight into the buffers it compresses: one
// copy per value and no per-entry objects, for a million entries. It writes the bytes tar-stream's pack wrote.
import { availableParallelism } from 'node:os';
import { Readable } from 'node:stream';
import { createGunzip, createGzip, type ZlibOptions } from 'node:zlib';
import { extract, type Header } from 'tar-stream';

/** vCluster: "don't compress with default level as this can get quite cpu heavy". */
export const GZIP_LEVEL = 3;
/** Tar bytes per gzip member, once grown: restarting the dictionary every 4 MiB costs well under 0.1% in size. */
export const MAX_MEMBER_BYTES = 4 * 1024 * 1024;
/** The first member is small and each next one twice as big, so a small archive is not held back to fill one. */
const FIRST_MEMBER_BYTES = 16 * 1024;
/** Members compressed at once, on libuv's threadpool (4 threads, shared with fs and dns: leave it one). */
const MEMBERS_IN_FLIGHT = Math.min(3, Math.max(2, availableParallelism()));
const MEMBER_OPTIONS: ZlibOptions = {
  level: GZIP_LEVEL,
  // zlib hands output back to the event loop one chunk at a time: 16 KiB by default, about 100 hops for a member.
  chunkSize: 256 * 1024,
  // A bigger hash table: about 10% faster at level 3 on etcd data, for the same output size.
  memLevel: 9,
};

// ---- tar: ustar headers, and a PAX `path` record for names that are long or not ASCII ----

const BLOCK = 512;
const ZEROS = Buffer.alloc(2 * BLOCK);
const USTAR_NAME_LIMIT = 100;
const TYPE_FILE = 0x30; // '0'
const TYPE_PAX = 0x78; // 'x'

/** Octal, zero-padded to `digits`, then a space (all 7s when it does not fit), as tar-stream writes numbers. */
function octal(value: number, digits: number): string {
  const text = value.toString(8);
  return text.length > digits ? `${'7'.repeat(digits)} ` : `${text.padStart(digits, '0')} `;
}

/** The fields every header shares: mode 0666, uid/gid 0, mtime 0, ustar magic "ustar\0" version "00", dev 0/0. */
const HEADER_TEMPLATE = (() => {
  const block = Buffer.alloc(BLOCK);
  block.write(octal(0o666, 6), 100, 'latin1');
  block.write(octal(0, 6), 108, 'latin1');
  block.write(octal(0, 6), 116, 'latin1');
  block.write(octal(0, 11), 136, 'latin1');
  block.write('ustar\x0000', 257, 'latin1');
  block.write(octal(0, 6), 329, 'latin1');
  block.write(octal(0, 6), 337, 'latin1');
  return block;
})();

/** One header block in `block` (512 bytes, reused): `name` must be ASCII and at most 100 bytes long. */
function encodeHeader(block: Buffer, name: string, size: number, typeflag: number): Buffer {
  HEADER_TEMPLATE.copy(block);
  block.write(name, 0, 'latin1');
  if (size.toString(8).length > 11) {
    // Too big for 11 octal digits (8 GiB): base-256, as tar-stream and Go write it.
    block[124] = 0x80;
    for (let i = 11, rest = size; i > 0; i--, rest = Math.floor(rest / 256)) block[124 + i] = rest % 256;
  } else {
    block.write(octal(size, 11), 124, 'latin1');
  }
  block[156] = typeflag;
  let checksum = 8 * 0x20; // the checksum field itself counts as spaces
  for (let i = 0; i < BLOCK; i++) checksum += block[i]!;
  block.write(octal(checksum, 6), 148, 'latin1');
  return block;
}

/** A PAX extended-header record `<length> path=<name>\n`, the length counting its own digits. */
function paxPathRecord(name: string): Buffer {
  const record = ` path=${name}\n`;
  const length = Buffer.byteLength(record);
  let digits = Math.floor(Math.log(length) / Math.log(10)) + 1;
  if (length + digits >= Math.pow(10, digits)) digits++;
  return Buffer.from(`${length + digits}${record}`);
}

// ---- the writer ----

export interface ArchiveWriter {
  /** The gzip output. Consume it while entries are added: addEntry and finish wait for the reader (backpressure). */
  readonly stream: Readable;
  /** Appends one regular-file entry; resolves once the writer has room for more (its buffers are bounded). */
  addEntry(name: string, body: Buffer): Promise<void>;
  /** Writes the end-of-archive blocks; resolves when every byte has gone through gzip. */
  finish(): Promise<void>;
  /** Fails the output stream, so a consumer (an upload) sees an error rather than a clean, truncated end. */
  abort(reason: Error): void;
}

/**
 * gzip as a series of members (RFC 1952 2.2: a gzip file is one or more members), each compressed from the next
 * slice of tar on the threadpool, several at once, and emitted in order: one core of gzip -3 is the ceiling of a
 * single deflate stream. gunzip, `tar -z`, node's zlib and Go's gzip.Reader (vCluster restore) all read every member.
 * Memory is bounded by MEMBERS_IN_FLIGHT + 1 members: a slow reader stops the writer.
 */
class TarGzipWriter implements ArchiveWriter {
  readonly stream: Readable;
  private member: Buffer = Buffer.allocUnsafe(FIRST_MEMBER_BYTES);
  private filled = 0;
  private readonly header = Buffer.alloc(BLOCK);
  /** Full-size member buffers whose compression is done, for reuse: a million entries churn no big buffers. */
  private readonly spare: Buffer[] = [];
  private readonly compressing: Array<Promise<Buffer[]>> = [];
  /** Settles once the members beyond MEMBERS_IN_FLIGHT have gone to the reader. */
  private room: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private ended = false;
  /** False from a push that filled the output's buffer until the reader asks for more. */
  private canPush = true;
  private wakeWriter: (() => void) | undefined;

  constructor() {
    this.stream = new Readable({
      read: () => {
        this.canPush = true;
        this.wakeWriter?.();
      },
    });
    // A consumer that gives up (an aborted upload) closes the output early: entries must then fail, not wait forever.
    this.stream.on('close', () => {
      if (!this.ended) this.fail(new Error('archive output closed before the archive was finished'));
      this.wakeWriter?.();
    });
    this.stream.on('error', (err: Error) => this.fail(err));
  }

  addEntry(name: string, body: Buffer): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    // A name that is not ASCII or does not fit the 100-byte field goes to a PAX `path` record, as Go's archive/tar
    // does (the USTAR name/prefix split would drop the leading '/' every etcd key has).
    if (name.length <= USTAR_NAME_LIMIT && Buffer.byteLength(name) === name.length) {
      this.write(encodeHeader(this.header, name, body.length, TYPE_FILE));
    } else {
      const record = paxPathRecord(name);
      this.write(encodeHeader(this.header, 'PaxHeader', record.length, TYPE_PAX));
      this.write(record);
      this.pad(record.length);
      this.write(encodeHeader(this.header, 'PaxHeader', body.length, TYPE_FILE));
    }
    this.write(body);
    this.pad(body.length);
    return this.room;
  }

  finish(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    this.write(ZEROS);
    if (this.filled > 0) this.startMember();
    this.setRoom(
      this.room.then(async () => {
        await this.emit(0);
        this.ended = true;
        this.stream.push(null);
      }),
    );
    return this.room;
  }

  abort(reason: Error): void {
    this.fail(reason);
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.stream.destroy(err);
  }

  /** The callers of addEntry and finish see a failure; it must not also count as an unhandled rejection. */
  private setRoom(room: Promise<void>): void {
    this.room = room;
    room.catch(() => undefined);
  }

  private write(bytes: Buffer): void {
    for (let offset = 0; offset < bytes.length; ) {
      const taken = bytes.copy(this.member, this.filled, offset);
      this.filled += taken;
      offset += taken;
      if (this.filled === this.member.length) this.startMember();
    }
  }

  private pad(size: number): void {
    if (size % BLOCK) this.write(ZEROS.subarray(0, BLOCK - (size % BLOCK)));
  }

  private startMember(): void {
    const buffer = this.member;
    const size = Math.min(MAX_MEMBER_BYTES, buffer.length * 2);
    this.member = (size === MAX_MEMBER_BYTES && this.spare.pop()) || Buffer.allocUnsafe(size);
    const member = compress(buffer.subarray(0, this.filled));
    this.filled = 0;
    // The output is in zlib's own chunks, so the input can be filled again once it is compressed.
    if (buffer.length === MAX_MEMBER_BYTES) void member.then(() => this.spare.push(buffer), () => undefined);
    member.catch(() => undefined); // awaited in order by emit
    this.compressing.push(member);
    if (this.compressing.length > MEMBERS_IN_FLIGHT) this.setRoom(this.room.then(() => this.emit(MEMBERS_IN_FLIGHT)));
  }

  /** Hands finished members to the reader, oldest first, until at most `inFlight` are left compressing. */
  private async emit(inFlight: number): Promise<void> {
    while (this.compressing.length > inFlight) {
      const chunks = await this.compressing.shift()!.catch((err: Error) => {
        this.fail(err);
        throw err;
      });
      for (const chunk of chunks) {
        if (!this.canPush && !this.failure) await new Promise<void>((wake) => (this.wakeWriter = wake));
        this.wakeWriter = undefined;
        if (this.failure) throw this.failure;
        this.canPush = this.stream.push(chunk);
      }
    }
  }
}

/** One gzip member of `input`, compressed on the threadpool, as the chunks zlib produced (no copy to join them). */
function compress(input: Buffer): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const gzip = createGzip(MEMBER_OPTIONS);
    gzip.on('data', (chunk: Buffer) => chunks.push(chunk));
    gzip.on('end', () => resolve(chunks));
    gzip.on('error', reject);
    gzip.end(input);
  });
}

export function createArchiveWriter(): ArchiveWriter {
  return new TarGzipWriter();
}

export interface ArchiveEntry {
  name: string;
  body: Buffer;
  header: Header;
}

/** The whole body of one tar entry (tar-stream hands it out in chunks). */
export async function readEntryBody(entry: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of entry) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
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
      yield { name: entry.header.name, body: await readEntryBody(entry), header: entry.header };
    }
  } finally {
    archive.unpipe(gunzip);
    gunzip.destroy();
  }
}
