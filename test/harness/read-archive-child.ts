// Reads one archive file the way `verify` and `restore` do (lib/archive/verify, every entry handed on) in a process
// of its own, and prints what it found with the process's peak RSS: `{ ok, problem, entries, tarBytes, ms, peakRssMiB }`.
// Usage: node --require tsx/cjs test/harness/read-archive-child.ts <archive.tar.gz>
import { createReadStream, readFileSync } from 'node:fs';
import { verifyArchive } from '../../lib/archive/verify';

async function main(): Promise<void> {
  const started = Date.now();
  let handed = 0;
  const report = await verifyArchive(createReadStream(process.argv[2]!), undefined, {
    onEntry: (_name, value) => {
      handed += value.length;
    },
  });
  // VmHWM, the peak RSS of this process's own memory: getrusage's maxRSS keeps the spawning parent's from before exec.
  const peakKiB = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? Number.NaN);
  const peakRssMiB = Math.round(peakKiB / 1024);
  console.log(JSON.stringify({ ok: report.ok, problem: report.problem, entries: report.entries, tarBytes: report.tarBytes, handed, ms: Date.now() - started, peakRssMiB }));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
