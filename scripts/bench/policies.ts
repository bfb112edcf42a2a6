// Part 3: applying many policies through applyPolicy, one after the other as `vcsnap sync` does: create them all,
// re-apply them unchanged, then change every cron.
import type { Client } from '@temporalio/client';
import { applyPolicy, type ApplyOutcome } from '../../client/schedules';
import type { SnapshotPolicy } from '../../workflows/definitions';
import { benchPolicy } from './policy';

export interface ApplyPass {
  pass: 'create' | 'unchanged' | 'change crons';
  seconds: number;
  errors: number;
  outcomes: Partial<Record<ApplyOutcome, number>>;
  firstError?: string;
}

async function applyAll(client: Client, taskQueue: string, policies: SnapshotPolicy[], pass: ApplyPass['pass']): Promise<ApplyPass> {
  const outcomes: ApplyPass['outcomes'] = {};
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  for (const policy of policies) {
    try {
      const outcome = await applyPolicy({ client, taskQueue }, policy);
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    } catch (err) {
      errors++;
      firstError ??= err instanceof Error ? err.message : String(err);
    }
  }
  return { pass, seconds: (performance.now() - started) / 1000, errors, outcomes, firstError };
}

export async function measurePolicies(client: Client, taskQueue: string, count: number, etcdEndpoint: string): Promise<ApplyPass[]> {
  const policies = Array.from({ length: count }, (_, i) =>
    benchPolicy(`vc-${String(i).padStart(4, '0')}`, { type: 'container', path: '/tmp/vcsnap-bench-unused' }, etcdEndpoint, {
      // Yearly (January 1st) at a time of its own: nothing fires during the bench.
      schedule: `${i % 60} ${i % 24} 1 1 *`,
    }),
  );
  const changed = policies.map((policy) => ({ ...policy, schedule: policy.schedule.replace(/ 1 1 \*$/, ' 2 1 *') }));
  return [
    await applyAll(client, taskQueue, policies, 'create'),
    await applyAll(client, taskQueue, policies, 'unchanged'),
    await applyAll(client, taskQueue, changed, 'change crons'),
  ];
}
