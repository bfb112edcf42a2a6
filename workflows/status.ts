// Pure status transitions for the snapshot workflow and its Web UI summary.
import type { SnapshotStatus, SnapshotStatusView, VolumeResult } from '../contracts/definitions';

export interface VolumeOutcome {
  status: Extract<SnapshotStatus, 'Completed' | 'PartiallyFailed' | 'Failed'>;
  reason?: string;
}

/** All completed (or none to take) -> Completed; some failed -> PartiallyFailed; all failed -> Failed (SPEC 6). */
export function aggregateVolumes(volumes: VolumeResult[]): VolumeOutcome {
  const taken = volumes.filter((v) => v.phase !== 'Skipped');
  const failed = taken.filter((v) => v.phase === 'Failed');
  if (failed.length === 0) return { status: 'Completed' };
  const reason = `${failed.length} of ${taken.length} volume snapshots failed: ${failed.map((v) => `${v.pvc}: ${v.reason ?? 'unknown error'}`).join('; ')}`;
  return { status: failed.length === taken.length ? 'Failed' : 'PartiallyFailed', reason };
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** Markdown shown in the Web UI's "current details" pane (hard line breaks, so each fact gets its own line). */
export function currentDetails(view: SnapshotStatusView): string {
  const facts = [`**${view.status}** (${view.phase}) — ${view.cluster.namespace}/${view.cluster.name}`, `snapshot: \`${view.snapshotName ?? '-'}\``];
  if (view.url) facts.push(`url: \`${view.url}\``);
  if (view.engine) facts.push(`engine: ${view.engine}${view.vclusterPhase ? ` (vCluster request phase: ${view.vclusterPhase})` : ''}`);
  if (view.waitingForDumpSlot) facts.push('waiting for a free dump slot on the worker (VCSNAP_MAX_CONCURRENT_DUMPS)');
  if (view.keysWritten || view.bytesWritten) facts.push(`written: ${view.keysWritten} keys, ${formatBytes(view.bytesWritten)}`);
  if (view.lock) facts.push(`Object Lock: ${view.lock.mode} until ${view.lock.retainUntil}`);
  if (view.copy) facts.push(view.copy.error ? `copy: \`${view.copy.url}\` failed` : `copy: \`${view.copy.url}\``);
  if (view.retention?.locked?.length) facts.push(`retention kept ${view.retention.locked.length} snapshot(s) still under Object Lock`);
  const sections = [facts.join('  \n')];
  if (view.volumes.length > 0) {
    sections.push(['| PVC | phase | reason |', '|---|---|---|', ...view.volumes.map((v) => `| ${v.pvc} | ${v.phase} | ${v.reason ?? ''} |`)].join('\n'));
  }
  if (view.error) sections.push(`error: ${view.error}`);
  return sections.join('\n\n');
}
