// The snapshot archive: gzip (level 3) of one tar stream of regular-file entries, entry name = etcd key, body = raw
// value. Headers match vCluster's writeArchiveEntry (pkg/snapshot/client.go): Typeflag '0', mode 0666, mtime 0,
// uid/gid 0, no user/group names. The writer encodes the tar itself, straight into the buffers it compresses: one
// copy per value and no per-entry objects, for a million entries. It writes the bytes Go's archive/tar writes.
import { availableParallelism } from 'node:os';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip, createGzip, type ZlibOptions } from 'node:zlib';
import { extract, type Header } from 'tar-stream';

/** vCluster: "don't compress with default level as this can get quite cpu heavy". */
export const GZIP_LEVEL = 3;
/**
 * Tar bytes per gzip member, once grown. 1 MiB: restarting the dictionary every 1 MiB made the bench's 1M-key archive
 * 0.15% bigger than 4 MiB members did, at the same speed, and each writer holds a few members (filling, compressing,
 * spare): four 1M-key dumps at once peaked at 387-392 MiB, against 426-447 MiB before this change and the S3 store's
 * one-part queue for concurrent uploads (bench dump child, 3 runs each).
 */
export const MAX_MEMBER_BYTES = 1024 * 1024;
/** The first member is small and each next one twice as big, so a small archive is not held back to fill one. */
const FIRST_MEMBER_BYTES = 16 * 1024;
/** Members compressed at once, on libuv's threadpool (4 threads, shared with fs and dns: leave it one). */
const MEMBERS_IN_FLIGHT = Math.min(3, Math.max(2, availableParallelism()));
/**
 * Writers open in this process (a worker runs several dumps at once). They share MEMBERS_IN_FLIGHT: the threadpool and
 * the cores are the process's, so four dumps compressing three members each only held twelve member buffers waiting
 * for three threads. Each writer gets its share, at least one member.
 */
let openWriters = 0;
/** The members one writer may have compressing now (exported for its test). */
export const membersInFlight = (): number => Math.max(1, Math.floor(MEMBERS_IN_FLIGHT / Math.max(1, openWriters)));
const MEMBER_OPTIONS: ZlibOptions = {
  level: GZIP_LEVEL,
  // zlib hands output back to the event loop one chunk at a time: 16 KiB by default, about 100 hops for a member.
  chunkSize: 256 * 1024,
  // A bigger hash table: about 10% faster at level 3 on etcd data, for the same output size.
  memLevel: 9,
};

// ---- tar: the bytes Go's archive/tar writes for vCluster's writeArchiveEntry header ----
// (Go src/archive/tar/writer.go and format.go; test/integration/vcluster-compat.test.ts compares byte for byte.)
// A name that is ASCII and fits in 100 bytes, or splits at a '/' into a 155-byte prefix and a 100-byte name, gets one
// USTAR header; any other name gets a PAX `path` record first (Go's writePAXHeader). Numbers are octal, zero-padded,
// NUL-terminated (Go's formatOctal); the checksum is six digits, NUL, space. Sizes are below 8 GiB (etcd values are).

const BLOCK = 512;
const ZEROS = Buffer.alloc(2 * BLOCK);
const NAME_SIZE = 100;
const PREFIX_SIZE = 155;
const TYPE_FILE = 0x30; // '0'
const TYPE_PAX = 0x78; // 'x'

/** Go's formatOctal: zero-padded to the field's length less one, then NUL. */
function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  block.write(value.toString(8).padStart(length - 1, '0'), offset, 'latin1');
  block[offset + length - 1] = 0;
}

/** Go's isASCII / toASCII: no byte at or above 0x80, no NUL (toASCII drops those characters). */
const isAscii = (name: string): boolean => Buffer.byteLength(name) === name.length && !name.includes('\0');
const toAscii = (name: string): string => name.replace(/[^\x01-\x7f]/gu, '');

/** Go's splitUSTARPath: a prefix (at most 155 bytes) and a name (1 to 100 bytes) split at a '/', if there is one. */
function splitUstarPath(name: string): [string, string] | undefined {
  let length = name.length;
  if (length <= NAME_SIZE || !isAscii(name)) return undefined;
  if (length > PREFIX_SIZE + 1) length = PREFIX_SIZE + 1;
  else if (name[length - 1] === '/') length--;
  const i = name.lastIndexOf('/', length - 1);
  const suffixLength = name.length - i - 1;
  if (i <= 0 || suffixLength > NAME_SIZE || suffixLength === 0 || i > PREFIX_SIZE) return undefined;
  return [name.slice(0, i), name.slice(i + 1)];
}

/** Go's formatter.formatString into the 100-byte name field (`name` is ASCII here). */
function writeName(block: Buffer, name: string): void {
  block.write(name.slice(0, NAME_SIZE), 0, 'latin1');
  if (name.length < NAME_SIZE) block[name.length] = 0;
  // "Some buggy readers treat regular files with a trailing slash in the V7 path field as a directory".
  if (name.length > NAME_SIZE && block[NAME_SIZE - 1] === 0x2f) block[name.slice(0, NAME_SIZE - 1).replace(/\/+$/, '').length] = 0;
}

/** Go's checksum: the header's bytes with the checksum field as spaces, six octal digits, NUL, space. */
function writeChecksum(block: Buffer): Buffer {
  block.fill(0x20, 148, 156);
  let checksum = 0;
  for (let i = 0; i < BLOCK; i++) checksum += block[i]!;
  writeOctal(block, 148, 7, checksum);
  block[155] = 0x20;
  return block;
}

/** The fields every regular-file header shares (mode 0666, uid/gid 0, mtime 0, magic, devices 0), checksum as spaces. */
const FILE_TEMPLATE = (() => {
  const block = Buffer.alloc(BLOCK);
  writeOctal(block, 100, 8, 0o666);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 136, 12, 0);
  block.fill(0x20, 148, 156);
  block[156] = TYPE_FILE;
  block.write('ustar\x0000', 257, 'latin1');
  writeOctal(block, 329, 8, 0);
  writeOctal(block, 337, 8, 0);
  return block;
})();
const FILE_TEMPLATE_SUM = FILE_TEMPLATE.reduce((sum, byte) => sum + byte, 0);

/**
 * A regular-file header as templateV7Plus and writeUSTARHeader/writePAXHeader fill it for vCluster's header: `name`
 * is ASCII, `prefix` its USTAR prefix. The checksum adds only the bytes written over the template (a million entries).
 */
function encodeFileHeader(block: Buffer, name: string, prefix: string, size: number): Buffer {
  FILE_TEMPLATE.copy(block);
  writeName(block, name);
  writeOctal(block, 124, 12, size);
  block.write(prefix, 345, 'latin1');
  let checksum = FILE_TEMPLATE_SUM;
  for (let i = Math.min(name.length, NAME_SIZE) - 1; i >= 0; i--) checksum += block[i]!;
  for (let i = 124; i < 135; i++) checksum += block[i]!;
  for (let i = 345 + prefix.length - 1; i >= 345; i--) checksum += block[i]!;
  writeOctal(block, 148, 7, checksum);
  block[155] = 0x20;
  return block;
}

/** The PAX extended header's own header (Go's writeRawFile): v7 fields only, then the USTAR magic. */
function encodePaxHeader(block: Buffer, realName: string, size: number): Buffer {
  block.fill(0);
  // path.Join(dir, "PaxHeaders.0", file), best effort: ASCII, 100 bytes, no trailing '/'.
  const slash = realName.lastIndexOf('/');
  const joined = posix.normalize(`${realName.slice(0, slash + 1)}/PaxHeaders.0/${realName.slice(slash + 1)}`).replace(/(.)\/$/, '$1');
  const name = toAscii(joined).slice(0, NAME_SIZE).replace(/\/+$/, '');
  block.write(name, 0, 'latin1');
  writeOctal(block, 100, 8, 0);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, 0);
  block[156] = TYPE_PAX;
  block.write('ustar\x0000', 257, 'latin1');
  return writeChecksum(block);
}

/** A PAX extended-header record `<length> path=<name>\n`, the length counting its own digits (Go's formatPAXRecord). */
function paxPathRecord(name: string): Buffer {
  const record = ` path=${name}\n`;
  const length = Buffer.byteLength(record);
  let size = length + String(length).length;
  if (String(size).length + length !== size) size = String(size).length + length;
  return Buffer.from(`${size}${record}`);
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
 * Memory is bounded by its share of MEMBERS_IN_FLIGHT + 1 members: a slow reader stops the writer.
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
    openWriters++;
    // A consumer that gives up (an aborted upload) closes the output early: entries must then fail, not wait forever.
    this.stream.on('close', () => {
      openWriters--;
      if (!this.ended) this.fail(new Error('archive output closed before the archive was finished'));
      this.wakeWriter?.();
    });
    this.stream.on('error', (err: Error) => this.fail(err));
  }

  addEntry(name: string, body: Buffer): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    // USTAR when the name is ASCII and fits (whole, or split at a '/'), else a PAX `path` record: as Go decides.
    const split = splitUstarPath(name);
    if (split) {
      this.write(encodeFileHeader(this.header, split[1], split[0], body.length));
    } else if (name.length <= NAME_SIZE && isAscii(name)) {
      this.write(encodeFileHeader(this.header, name, '', body.length));
    } else {
      const record = paxPathRecord(name);
      this.write(encodePaxHeader(this.header, name, record.length));
      this.write(record);
      this.pad(record.length);
      this.write(encodeFileHeader(this.header, toAscii(name), '', body.length));
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
    const inFlight = membersInFlight();
    if (this.compressing.length > inFlight) this.setRoom(this.room.then(() => this.emit(inFlight)));
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
