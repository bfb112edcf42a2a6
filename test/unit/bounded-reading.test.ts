// Bounded reading: verify and restore read archives through lib/archive/verify, one entry at a time, with a cap on
// an entry's size and on how far the gzip stream may expand. Two 10 MiB bombs that expand to 10 GiB are refused with
// the reason, each read in a child process whose peak RSS is measured; a well-formed archive still reads whole.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createArchiveWriter } from '../../lib/archive/writer';
import { manyEntriesBomb, oneHugeEntryBomb } from '../harness/archive-bomb';

const MiB = 1024 * 1024;
const RSS_LIMIT_MIB = 300;

interface ChildReport {
  ok: boolean;
  problem?: { kind: string; message: string };
  entries: number;
  tarBytes: number;
  handed: number;
  ms: number;
  peakRssMiB: number;
}

function readInChild(path: string): ChildReport {
  const child = join(__dirname, '..', 'harness', 'read-archive-child.ts');
  const output = execFileSync(process.execPath, ['--require', require.resolve('tsx/cjs'), child, path], { encoding: 'utf8', timeout: 120_000 });
  return JSON.parse(output.trim().split('\n').pop()!) as ChildReport;
}

describe('bounded reading of archives (verify and restore)', function () {
  this.timeout(180_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'vcsnap-bombs-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses an entry claiming 10 GiB before reading it, in bounded memory', async () => {
    const path = join(dir, 'huge-entry.tar.gz');
    const bytes = await oneHugeEntryBomb(path);
    const report = readInChild(path);
    console.log(`      ${(bytes / MiB).toFixed(1)} MiB archive, one 10 GiB entry: refused in ${report.ms} ms, peak RSS ${report.peakRssMiB} MiB: ${report.problem?.message}`);
    assert.equal(report.ok, false);
    assert.equal(report.problem?.kind, 'limit');
    assert.match(report.problem!.message, /claims 10737418240 bytes, beyond the 67108864-byte limit for one entry: refused before reading it/);
    assert.ok(report.peakRssMiB < RSS_LIMIT_MIB, `peak RSS ${report.peakRssMiB} MiB`);
  });

  it('refuses 10,240 entries of 1 MiB of zeros (10 GiB) at the expansion limit, in bounded memory and time', async () => {
    const path = join(dir, 'many-entries.tar.gz');
    const bytes = await manyEntriesBomb(path);
    const report = readInChild(path);
    console.log(`      ${(bytes / MiB).toFixed(1)} MiB archive expanding to 10 GiB: refused after ${(report.tarBytes / MiB).toFixed(0)} MiB of tar in ${report.ms} ms, peak RSS ${report.peakRssMiB} MiB`);
    console.log(`      reason: ${report.problem?.message}`);
    assert.equal(report.ok, false);
    assert.equal(report.problem?.kind, 'limit');
    assert.match(report.problem!.message, /expands \d+-fold .* beyond the 200-fold limit: a decompression bomb/);
    assert.ok(report.tarBytes < 128 * MiB, 'stopped long before the end');
    assert.ok(report.peakRssMiB < RSS_LIMIT_MIB, `peak RSS ${report.peakRssMiB} MiB`);
  });

  it('still reads a well-formed archive whole: 200 MiB of incompressible values', async () => {
    const path = join(dir, 'real.tar.gz');
    const writer = createArchiveWriter();
    const chunks: Buffer[] = [];
    writer.stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    for (let i = 0; i < 200; i++) await writer.addEntry(`/registry/configmaps/default/cm-${String(i).padStart(4, '0')}`, randomBytes(MiB));
    await writer.finish();
    writeFileSync(path, Buffer.concat(chunks));
    const report = readInChild(path);
    console.log(`      200 MiB archive read whole in ${report.ms} ms, peak RSS ${report.peakRssMiB} MiB`);
    assert.equal(report.ok, true, report.problem?.message);
    assert.equal(report.entries, 200);
    assert.equal(report.handed, 200 * MiB);
    assert.ok(report.peakRssMiB < RSS_LIMIT_MIB, `peak RSS ${report.peakRssMiB} MiB`);
  });
});
