// Part 5: how long after its schedule fires a small cluster's snapshot is Completed: a real schedule (applyPolicy) on
// `@every <interval>`, the times read back from Temporal's visibility (nominal fire time -> close time).
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { applyPolicy, removePolicy } from '../../lib/schedules';
import { scheduleIdFor } from '../../contracts/naming';
import type { SnapshotPolicy } from '../../contracts/definitions';

export interface LatencyFigures {
  runs: number;
  every: string;
  medianSeconds: number;
  maxSeconds: number;
  notCompleted: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const SCHEDULED_START_TIME = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);

/** Seconds from the schedule's nominal fire time to the run's close. */
function latencyOf(run: WorkflowExecutionInfo): number | undefined {
  const fired = run.typedSearchAttributes.get(SCHEDULED_START_TIME);
  return fired && run.closeTime ? (run.closeTime.getTime() - fired.getTime()) / 1000 : undefined;
}

function median(sorted: number[]): number {
  const middle = sorted.length / 2;
  return sorted.length % 2 ? sorted[Math.floor(middle)]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function closedRuns(client: Client, scheduleId: string): Promise<WorkflowExecutionInfo[]> {
  const runs: WorkflowExecutionInfo[] = [];
  for await (const run of client.workflow.list({ query: `TemporalScheduledById = '${scheduleId}' AND ExecutionStatus != 'Running'` })) runs.push(run);
  return runs;
}

export async function measureLatency(client: Client, taskQueue: string, policy: SnapshotPolicy, runs: number, every: string): Promise<LatencyFigures> {
  const scheduled: SnapshotPolicy = { ...policy, schedule: `@every ${every}` };
  await applyPolicy({ client, taskQueue }, scheduled);
  const scheduleId = scheduleIdFor(policy.cluster);
  let closed: WorkflowExecutionInfo[] = [];
  try {
    const deadline = Date.now() + runs * 60_000;
    while (closed.length < runs && Date.now() < deadline) {
      await sleep(2000);
      closed = await closedRuns(client, scheduleId);
    }
  } finally {
    await removePolicy({ client, taskQueue }, policy.cluster);
  }
  const taken = closed.sort((a, b) => a.startTime.getTime() - b.startTime.getTime()).slice(0, runs);
  const latencies = taken
    .map(latencyOf)
    .filter((seconds): seconds is number => seconds !== undefined)
    .sort((a, b) => a - b);
  return {
    runs: latencies.length,
    every,
    medianSeconds: median(latencies),
    maxSeconds: latencies.at(-1) ?? NaN,
    notCompleted: taken.filter((run) => run.status.name !== 'COMPLETED').length,
  };
}
