// Part 3: reconciling many clusters through `sync` (what `vcsnap sync` and the sync schedule run, SYNC_CONCURRENCY
// schedules at once): create them all, re-apply them unchanged, then change every cron.
import type { Client } from '@temporalio/client';
import { listPolicies, sync, type ApplyOutcome } from '../../lib/schedules';
import type { SnapshotPolicy } from '../../contracts/definitions';
import { benchPolicy } from './policy';

export interface ApplyPass {
  pass: 'create' | 'unchanged' | 'change crons';
  seconds: number;
  errors: number;
  outcomes: Partial<Record<ApplyOutcome, number>>;
  firstError?: string;
  /** CPU seconds each process spent during the pass (fleet part: the Temporal server, PostgreSQL, this client). */
  cpuSeconds?: Record<string, number>;
  /**
   * Change pass: seconds from its start until the listing shows every schedule's new digest. Sync is done once the
   * server has taken each update; each schedule's workflow applies it after that.
   */
  appliedSeconds?: number;
  /** CPU seconds each watched process spent from the pass's start until then. */
  appliedCpuSeconds?: Record<string, number>;
}

/** CPU seconds used so far, per process the caller watches. */
export type CpuCounter = () => Record<string, number>;

/** CPU seconds each watched process spent since `before` was read (nothing without a counter). */
function cpuSince(before: Record<string, number> | undefined, cpu?: CpuCounter): Record<string, number> | undefined {
  const after = cpu?.();
  return before && after && Object.fromEntries(Object.entries(after).map(([name, seconds]) => [name, seconds - (before[name] ?? 0)]));
}

async function applyAll(client: Client, taskQueue: string, policies: SnapshotPolicy[], pass: ApplyPass['pass'], cpu?: CpuCounter): Promise<ApplyPass> {
  const cpuBefore = cpu?.();
  const started = performance.now();
  const report = await sync({ client, taskQueue }, policies.map((policy) => ({ cluster: policy.cluster, policy })));
  const seconds = (performance.now() - started) / 1000;
  const outcomes: ApplyPass['outcomes'] = {};
  for (const outcome of ['created', 'updated', 'unchanged'] as const) if (report[outcome].length) outcomes[outcome] = report[outcome].length;
  const cpuSeconds = cpuSince(cpuBefore, cpu);
  return { pass, seconds, errors: report.failed.length, outcomes, firstError: report.failed[0]?.error, ...(cpuSeconds && { cpuSeconds }) };
}

/** Seconds since `started` until the listing shows a digest other than `before`'s for every schedule in it. */
async function untilApplied(client: Client, before: Map<string, string | undefined>, started: number): Promise<number> {
  for (;;) {
    const listed = await listPolicies({ client });
    if (listed.every((p) => !before.has(p.scheduleId) || (p.appliedPolicy && p.appliedPolicy !== before.get(p.scheduleId)))) return (performance.now() - started) / 1000;
    // A listing of 10,000 schedules costs the server, PostgreSQL and this client about 2 CPU seconds: every 10 s.
    await new Promise((resolve) => setTimeout(resolve, 10_000));
  }
}

export async function measurePolicies(client: Client, taskQueue: string, count: number, etcdEndpoint: string, cpu?: CpuCounter): Promise<ApplyPass[]> {
  const policies = Array.from({ length: count }, (_, i) =>
    benchPolicy(`vc-${String(i).padStart(4, '0')}`, { type: 'container', path: '/tmp/vcsnap-bench-unused' }, etcdEndpoint, {
      // Yearly (January 1st) at a time of its own: nothing fires during the bench.
      schedule: `${i % 60} ${i % 24} 1 1 *`,
    }),
  );
  const changed = policies.map((policy) => ({ ...policy, schedule: policy.schedule.replace(/ 1 1 \*$/, ' 2 1 *') }));
  const passes = [await applyAll(client, taskQueue, policies, 'create', cpu), await applyAll(client, taskQueue, policies, 'unchanged', cpu)];
  const before = new Map((await listPolicies({ client })).map((p) => [p.scheduleId, p.appliedPolicy]));
  const cpuBefore = cpu?.();
  const started = performance.now();
  const change = await applyAll(client, taskQueue, changed, 'change crons', cpu);
  const appliedSeconds = await untilApplied(client, before, started);
  const appliedCpuSeconds = cpuSince(cpuBefore, cpu);
  return [...passes, { ...change, appliedSeconds, ...(appliedCpuSeconds && { appliedCpuSeconds }) }];
}
