// Part 3: reconciling many clusters through `sync` (what `vcsnap sync` and the sync schedule run, SYNC_CONCURRENCY
// schedules at once): create them all, re-apply them unchanged, then change every cron.
import type { Client } from '@temporalio/client';
import { sync, type ApplyOutcome } from '../../lib/schedules';
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
}

/** CPU seconds used so far, per process the caller watches. */
export type CpuCounter = () => Record<string, number>;

async function applyAll(client: Client, taskQueue: string, policies: SnapshotPolicy[], pass: ApplyPass['pass'], cpu?: CpuCounter): Promise<ApplyPass> {
  const cpuBefore = cpu?.();
  const started = performance.now();
  const report = await sync({ client, taskQueue }, policies.map((policy) => ({ cluster: policy.cluster, policy })));
  const seconds = (performance.now() - started) / 1000;
  const outcomes: ApplyPass['outcomes'] = {};
  for (const outcome of ['created', 'updated', 'unchanged'] as const) if (report[outcome].length) outcomes[outcome] = report[outcome].length;
  const cpuAfter = cpu?.();
  const cpuSeconds = cpuBefore && cpuAfter && Object.fromEntries(Object.entries(cpuAfter).map(([name, seconds]) => [name, seconds - (cpuBefore[name] ?? 0)]));
  return { pass, seconds, errors: report.failed.length, outcomes, firstError: report.failed[0]?.error, ...(cpuSeconds && { cpuSeconds }) };
}

export async function measurePolicies(client: Client, taskQueue: string, count: number, etcdEndpoint: string, cpu?: CpuCounter): Promise<ApplyPass[]> {
  const policies = Array.from({ length: count }, (_, i) =>
    benchPolicy(`vc-${String(i).padStart(4, '0')}`, { type: 'container', path: '/tmp/vcsnap-bench-unused' }, etcdEndpoint, {
      // Yearly (January 1st) at a time of its own: nothing fires during the bench.
      schedule: `${i % 60} ${i % 24} 1 1 *`,
    }),
  );
  const changed = policies.map((policy) => ({ ...policy, schedule: policy.schedule.replace(/ 1 1 \*$/, ' 2 1 *') }));
  return [
    await applyAll(client, taskQueue, policies, 'create', cpu),
    await applyAll(client, taskQueue, policies, 'unchanged', cpu),
    await applyAll(client, taskQueue, changed, 'change crons', cpu),
  ];
}
