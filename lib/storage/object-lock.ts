// Which S3 Object Lock a snapshot is written with: its taken (nominal) time plus retention.period days, so it cannot
// be deleted or overwritten before retention would prune it anyway. A bucket without Object Lock cannot take one:
// the snapshot is still stored (a missing backup is worse than an unlocked one) and the run says why it is unlocked.
import type { ObjectLock, SnapshotPolicy } from '../../contracts/definitions';
import type { SnapshotStore } from './types';

const DAY_MS = 86_400_000;

/** The lock the policy asks for a snapshot taken at `nominalTime`, or undefined (none asked, or already past `now`). */
export function lockFor(policy: SnapshotPolicy, nominalTime: string | Date, now: Date): ObjectLock | undefined {
  if (!policy.objectLock) return undefined;
  const until = new Date(new Date(nominalTime).getTime() + policy.retention.periodDays * DAY_MS);
  // A lock already expired protects nothing (and S3 refuses a retain-until date in the past).
  if (until.getTime() <= now.getTime()) return undefined;
  return { mode: policy.objectLock, retainUntil: until.toISOString() };
}

export interface CheckedLock {
  lock?: ObjectLock;
  /** Why the lock asked for is not written: said in the run's status and record (the run ends PartiallyFailed). */
  lockWarning?: string;
}

/** The lock to write into `store` (`where` names it in the warning), after asking the bucket whether it can take one. */
export async function checkedLock(store: SnapshotStore, policy: SnapshotPolicy, nominalTime: string | Date, now: Date, where: string): Promise<CheckedLock> {
  const lock = lockFor(policy, nominalTime, now);
  if (!lock) return {};
  if (!store.objectLockSupport) return { lockWarning: `objectLock ${lock.mode} asked for, but ${where} is not S3: stored without a lock` };
  const support = await store.objectLockSupport();
  if (support.enabled) return { lock };
  return {
    lockWarning: `objectLock ${lock.mode} asked for, but ${support.reason ?? `${where} has no Object Lock`}: the snapshot is stored WITHOUT a lock (create a bucket with Object Lock enabled, or remove objectLock)`,
  };
}
