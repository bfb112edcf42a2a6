import { syncDrillSchedules, type DrillSyncReport } from '../../../lib/drill/schedules';
import { discoverClusters } from '../../../lib/kube/discovery';
import { loadKubeConfig, loadRuntimeConfig } from '../../../lib/runtime-config';
import { SYNC_SCHEDULE_ID, scheduleSync, sync, type ScheduleTarget, type SyncReport } from '../../../lib/schedules';
import { UsageError, type CommandLine } from '../args';
import type { ConnectedCommand } from '../command';
import { print } from '../output';

function formatReport(report: SyncReport): string {
  return [
    `created ${report.created.length}, updated ${report.updated.length}, unchanged ${report.unchanged.length}, deleted ${report.deleted.length}, invalid ${report.invalid.length}, failed ${report.failed.length}`,
    ...report.invalid.map((i) => `invalid ${i.scheduleId}:\n  ${i.error.replace(/\n/g, '\n  ')}`),
    ...report.failed.map((f) => `failed ${f.scheduleId}: ${f.error}`),
  ].join('\n');
}

function formatDrills(report: DrillSyncReport): string {
  const changed = report.applied.filter((a) => a.outcome !== 'unchanged').length;
  return [
    `drill schedules: ${report.applied.length} kept (${changed} created or updated), deleted ${report.deleted.length}, failed ${report.failed.length}`,
    ...report.failed.map((f) => `failed ${f.scheduleId}: ${f.error}`),
  ].join('\n');
}

async function syncNow({ json }: CommandLine, connection: ScheduleTarget): Promise<number> {
  const kube = loadKubeConfig();
  if (!kube) throw new UsageError('sync: no host cluster configured (set KUBECONFIG)');
  const config = loadRuntimeConfig();
  const discovered = await discoverClusters(kube, config.defaultEngine, config.policyLimits, config.servedNamespaces);
  const report = await sync(connection, discovered);
  const drills = await syncDrillSchedules(connection, discovered, config.drillIntervalSeconds);
  print(json, { ...report, drills }, () => `${formatReport(report)}
${formatDrills(drills)}`);
  return report.invalid.length + report.failed.length + drills.failed.length > 0 ? 1 : 0;
}

export const syncCommand: ConnectedCommand = {
  name: 'sync',
  usage: 'sync [--schedule CRON]',
  summary: 'reconcile schedules with every vc-config-* Secret in the host cluster;\nwith --schedule, let the worker do it on that cron instead',
  async run(commandLine, connection) {
    const cron = commandLine.options.schedule;
    if (!cron) return syncNow(commandLine, connection);
    console.log(`${SYNC_SCHEDULE_ID}: ${await scheduleSync(connection, cron)} (${cron})`);
    return 0;
  },
};
