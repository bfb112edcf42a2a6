// The bookkeeping of one snapshot run: its status view (the `status` query, the SnapshotStatus search attribute and
// the Web UI's current details), the progress signals that move it, and the metadata record it ends with. The
// workflow tells the story; this class keeps the books.
import { setCurrentDetails, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import {
  SEARCH_ATTRIBUTES,
  dumpProgressSignal,
  statusQuery,
  type SnapshotPolicy,
  type SnapshotCopy,
  type SnapshotRecord,
  type SnapshotStatusView,
  type StoredSnapshot,
  type VolumeResult,
} from '../contracts/definitions';
import { rootMessage } from '../contracts/errors';
import { currentDetails } from './status';

export class SnapshotRun {
  readonly view: SnapshotStatusView;
  private stored?: Pick<StoredSnapshot, 'sha256' | 'revision' | 'encryption'>;

  constructor(
    private readonly policy: SnapshotPolicy,
    readonly snapshotName: string,
    private readonly nominalTime: Date,
  ) {
    this.view = {
      cluster: policy.cluster,
      status: 'InProgress',
      phase: 'planning',
      snapshotName,
      startedAt: new Date().toISOString(),
      keysWritten: 0,
      bytesWritten: 0,
      volumes: [],
    };
    setHandler(statusQuery, () => this.view);
    setHandler(dumpProgressSignal, (progress) => {
      if (this.view.phase !== 'dumping') return;
      if (progress.requestPhase !== undefined) this.view.vclusterPhase = progress.requestPhase || 'Pending';
      this.view.keysWritten = progress.keys;
      this.view.bytesWritten = progress.bytes;
      this.view.waitingForDumpSlot = progress.waitingForSlot || undefined;
      this.showDetails();
    });
    this.publish();
  }

  /** Moves to the next step and says so everywhere. */
  enter(phase: SnapshotStatusView['phase'], changes: Partial<SnapshotStatusView> = {}): void {
    Object.assign(this.view, changes, { phase });
    this.publish();
  }

  /** The dump is scheduled: it waits for a slot until its first progress signal (waitingForSlot unset) arrives. */
  waitForDumpSlot(): void {
    this.view.waitingForDumpSlot = true;
    this.showDetails();
  }

  showVolumes(volumes: VolumeResult[]): void {
    this.view.volumes = volumes;
    this.showDetails();
  }

  /**
   * The archive is stored: Completed, or PartiallyFailed with the volumes' reason, or with why the Object Lock the
   * policy asks for could not be written (stored unlocked: said where every operator looks, not only in a log).
   */
  archiveStored(stored: StoredSnapshot, volumeReason: string | undefined): void {
    Object.assign(this.view, { url: stored.url, keysWritten: stored.keys, bytesWritten: stored.bytes, waitingForDumpSlot: undefined });
    if (stored.lock) this.view.lock = stored.lock;
    this.stored = stored;
    const reasons = [volumeReason, stored.lockWarning].filter(Boolean);
    this.view.status = reasons.length > 0 ? 'PartiallyFailed' : 'Completed';
    this.view.error = reasons.length > 0 ? reasons.join('; ') : undefined;
  }

  /** The copy step's outcome: a copy that failed (or is stored unlocked against the policy) makes the run PartiallyFailed. */
  copied(copy: SnapshotCopy & { lockWarning?: string }): void {
    const { lockWarning, ...kept } = copy;
    this.view.copy = kept;
    const reason = kept.error ? `copy to ${kept.url} failed: ${kept.error}` : lockWarning ? `copy ${kept.url}: ${lockWarning}` : undefined;
    if (!reason) return;
    if (this.view.status !== 'Failed') this.view.status = 'PartiallyFailed';
    this.view.error = [this.view.error, reason].filter(Boolean).join('; ');
  }

  failed(reason: string): void {
    this.view.waitingForDumpSlot = undefined;
    this.view.status = 'Failed';
    this.view.error = reason;
  }

  /** Adds a reason to the run's error without changing its status (a missing record, say). */
  note(what: string, err: unknown): void {
    this.view.error = [this.view.error, `${what}: ${rootMessage(err)}`].filter(Boolean).join('; ');
  }

  /** The metadata record stored beside the archive (SPEC 7), written once the outcome is known. */
  record(): SnapshotRecord {
    const { view } = this;
    return {
      formatVersion: 1,
      cluster: this.policy.cluster,
      snapshotName: this.snapshotName,
      archiveUrl: view.url ?? '',
      status: view.status as SnapshotRecord['status'],
      startedAt: view.startedAt,
      finishedAt: view.finishedAt ?? new Date().toISOString(),
      nominalTime: this.nominalTime.toISOString(),
      bytes: view.bytesWritten,
      keys: view.keysWritten,
      sha256: this.stored?.sha256,
      revision: this.stored?.revision || undefined,
      encryption: this.stored?.encryption,
      volumes: view.volumes,
      error: view.error,
      workflowId: workflowInfo().workflowId,
      runId: workflowInfo().runId,
      engine: view.engine,
      ...(view.lock ? { lock: view.lock } : {}),
      ...(view.copy ? { copy: view.copy } : {}),
    };
  }

  private showDetails(): void {
    setCurrentDetails(currentDetails(this.view));
  }

  private publish(): void {
    upsertSearchAttributes([
      { key: SEARCH_ATTRIBUTES.clusterName, value: this.policy.cluster.name },
      { key: SEARCH_ATTRIBUTES.clusterNamespace, value: this.policy.cluster.namespace },
      { key: SEARCH_ATTRIBUTES.snapshotStatus, value: this.view.status },
    ]);
    this.showDetails();
  }
}
