import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { MAX_MEMBER_BYTES, createArchiveWriter, readArchiveEntries, type ArchiveEntry } from '../../lib/archive/writer';

// Written by Go's archive/tar exactly as vCluster's writeArchiveEntry does (Typeflag Reg, Mode 0666, nothing else),
// then gzipped: a short key, a 220-byte key Go splits into USTAR prefix/name, a 300-byte key (PAX), a non-ASCII key
// (PAX) and an empty value.
const GO_ARCHIVE = Buffer.from(
  'H4sIAAAAAAACA+2XTW6DMBBGSZecIieof2NW2XfZK1jCCSguIOxIcKpeoDsO1rqNFCJLCYmKqSjzNra8GRv5+WNQrfa5sXWLqjI1KFU7edQWyWhE' +
    'sEMI8TM6/NGxuZi7dcKESKI1jibgaKysXfkxDnl5uJmQKa3LCFgqbTB+4X9COZ+7/+j8sDZ/xF3bNpXOLWiwWPpr+iqbFyVTVZtnjA5jcsX7s/O8' +
    'fxtO64xS5vxv5uT/TGEErytps21/EQ7AAPF/9D/c5xrOf+75z5KEwv//FOiy2EMKQv57+V+M3f/fyn/MsNf/U0YJ5P8UUO7Hf/dRdO8xmLE0/4tg' +
    'NR7Of0IYgfyfhtXTJ1iwYP/VW2XbsDWG/ffz/7sDAP8BAABC8gUqtPfdAB4AAA==',
  'base64',
);
const GO_KEYS: Array<[string, Buffer]> = [
  ['/registry/pods/default/a', Buffer.from('hello')],
  [`/registry/${'x'.repeat(120)}/${'y'.repeat(90)}`, Buffer.from('split')],
  [`/registry/${'k'.repeat(290)}`, Buffer.from('long')],
  ['/registry/ünï', Buffer.from([0, 1, 2, 255])],
  ['/empty', Buffer.alloc(0)],
];

async function readAll(archive: Readable): Promise<ArchiveEntry[]> {
  const entries: ArchiveEntry[] = [];
  for await (const entry of readArchiveEntries(archive)) entries.push(entry);
  return entries;
}

async function writeArchive(entries: Array<[string, Buffer]>): Promise<Buffer> {
  const writer = createArchiveWriter();
  const output = buffer(writer.stream);
  for (const [name, body] of entries) await writer.addEntry(name, body);
  await writer.finish();
  return output;
}

/** The tar the writer used to get from tar-stream's pack (PAX above 100 bytes), which it now encodes itself. */
async function tarStreamTar(entries: Array<[string, Buffer]>): Promise<Buffer> {
  const tar = pack();
  const output = buffer(tar);
  for (const [name, body] of entries) {
    const pax = Buffer.byteLength(name) > 100 ? { pax: {} } : {};
    const header = { type: 'file', mode: 0o666, uid: 0, gid: 0, mtime: new Date(0), ...pax, name, size: body.length } as const;
    await new Promise<void>((resolve, reject) => tar.entry(header, body, (err) => (err ? reject(err) : resolve())));
  }
  tar.finalize();
  return output;
}

const headerFields = (entry: ArchiveEntry) => {
  const { type, mode, uid, gid, mtime, uname, gname, size } = entry.header;
  return { name: entry.name, type, mode, uid, gid, mtime: mtime.getTime(), uname, gname, size };
};

describe('archive', () => {
  it('round-trips names and byte-exact bodies, including 300-byte keys and binary values', async () => {
    const entries: Array<[string, Buffer]> = [...GO_KEYS, ['/registry/random', randomBytes(100_000)]];
    const read = await readAll(Readable.from(await writeArchive(entries)));
    assert.deepEqual(
      read.map((e) => [e.name, e.body]),
      entries,
    );
    assert.equal(read[2]!.name.length, 300);
  });

  it('writes the same header fields as Go archive/tar does for vCluster', async () => {
    const fromGo = await readAll(Readable.from(GO_ARCHIVE));
    assert.deepEqual(
      fromGo.map((e) => [e.name, e.body]),
      GO_KEYS,
    );
    const ours = await readAll(Readable.from(await writeArchive(GO_KEYS)));
    assert.deepEqual(ours.map(headerFields), fromGo.map(headerFields));
    assert.deepEqual(headerFields(ours[0]!), {
      name: '/registry/pods/default/a',
      type: 'file',
      mode: 0o666,
      uid: 0,
      gid: 0,
      mtime: 0,
      uname: '',
      gname: '',
      size: 5,
    });
  });

  it('writes byte for byte the tar that tar-stream packs, PAX records and padding included', async () => {
    const names = [...GO_KEYS.map(([name]) => name), '/registry/ünï', `/${'a'.repeat(98)}`, `/${'b'.repeat(99)}`, `/${'c'.repeat(100)}`];
    // PAX record lengths around a change in their digit count.
    for (let length = 985; length < 1000; length++) names.push(`/${'d'.repeat(length)}`);
    const sizes = [0, 1, 511, 512, 513, 1024, 4097];
    const entries: Array<[string, Buffer]> = names.map((name, i) => [name, randomBytes(sizes[i % sizes.length]!)]);
    const ours = gunzipSync(await writeArchive(entries));
    assert.ok(ours.equals(await tarStreamTar(entries)), 'tar bytes differ from tar-stream pack');
    assert.ok(gunzipSync(await writeArchive([])).equals(await tarStreamTar([])), 'empty archives differ');
  });

  it('produces a valid empty archive', async () => {
    assert.deepEqual(await readAll(Readable.from(await writeArchive([]))), []);
  });

  it('writes a multi-member gzip that readArchiveEntries, gunzip and tar -tzf read whole', async function () {
    this.timeout(60_000);
    // Half random, half repetitive bodies: members of both kinds of deflate output, more than 2 * MAX_MEMBER_BYTES.
    const entries: Array<[string, Buffer]> = Array.from({ length: 3000 }, (_, i) => [
      `/registry/configmaps/ns-${i % 7}/cm-${i}`,
      i % 2 ? randomBytes(2000 + (i % 4096)) : Buffer.from(`{"data":"${'x'.repeat(i % 5000)}"}`),
    ]);
    const archive = await writeArchive(entries);
    const tarBytes = gunzipSync(archive).length;
    assert.ok(tarBytes > 2 * MAX_MEMBER_BYTES, `test archive too small: ${tarBytes} bytes of tar`);
    // Every member starts with the same header (no name, mtime 0, OS unix): count them.
    const memberHeader = Buffer.from('1f8b0800000000000003', 'hex');
    let members = 0;
    for (let at = archive.indexOf(memberHeader); at !== -1; at = archive.indexOf(memberHeader, at + 1)) members++;
    assert.ok(members >= 3, `expected several gzip members, found ${members}`);

    const read = await readAll(Readable.from(archive));
    assert.deepEqual(read.map((e) => e.name), entries.map(([name]) => name));
    assert.ok(read.every((e, i) => e.body.equals(entries[i]![1])), 'bodies differ after the round trip');

    const dir = mkdtempSync(join(tmpdir(), 'vcsnap-archive-'));
    try {
      writeFileSync(join(dir, 'archive.tar.gz'), archive);
      const { stdout } = await promisify(execFile)('tar', ['-tzf', join(dir, 'archive.tar.gz')], { maxBuffer: 64 * 1024 * 1024 });
      assert.deepEqual(stdout.trim().split('\n'), entries.map(([name]) => name));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('waits for the reader (backpressure) instead of buffering the whole archive', async () => {
    const writer = createArchiveWriter();
    let written = 0;
    const writing = (async () => {
      for (let i = 0; i < 64; i++) {
        await writer.addEntry(`/registry/blob/${i}`, randomBytes(64 * 1024));
        written++;
      }
      await writer.finish();
    })();
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok(written < 8, `writer ran ahead of an idle reader: ${written} of 64 entries buffered`);
    const entries = await readAll(writer.stream);
    await writing;
    assert.equal(entries.length, 64);
  });

  it('fails the output stream on abort, so a consumer never sees a clean truncated end', async () => {
    const writer = createArchiveWriter();
    const output = buffer(writer.stream);
    await writer.addEntry('/registry/a', Buffer.from('a'));
    writer.abort(new Error('etcd went away'));
    await assert.rejects(output, /etcd went away/);
    await assert.rejects(writer.addEntry('/registry/b', Buffer.from('b')), /etcd went away/);
    await assert.rejects(writer.finish(), /etcd went away/);
  });

  it('fails pending and later entries when the consumer closes the output early', async () => {
    const writer = createArchiveWriter();
    writer.stream.once('data', () => writer.stream.destroy());
    const writing = (async () => {
      for (let i = 0; i < 64; i++) await writer.addEntry(`/registry/blob/${i}`, randomBytes(64 * 1024));
    })();
    await assert.rejects(writing, /closed before the archive was finished/);
    await assert.rejects(writer.finish(), /closed before the archive was finished/);
  });
});
