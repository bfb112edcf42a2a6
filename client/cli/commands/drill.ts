import type { DrillResult } from '../../../contracts/drill';
import { describe } from '../../../lib/schedules';
import { runDrill } from '../../drill';
import { UsageError, clusterArg } from '../args';
import { reportCommand } from '../command';

function formatDrill(result: DrillResult): string {
  const head = `${result.cluster.namespace}/${result.cluster.name} ${result.snapshotName ?? ''}: ${result.outcome}${result.refusal ? ` (${result.refusal})` : ''} in ${result.durationSeconds}s`;
  const objects = result.objects ? Object.entries(result.objects).map(([kind, n]) => `${kind}=${n}`).join(' ') : '';
  return [head, result.keys === undefined ? '' : `${result.keys} keys restored and checked${result.apiServerChecked ? ', listed through a kube-apiserver' : ''}`, objects, result.reason ?? '']
    .filter(Boolean)
    .join('\n');
}

export const drillCommand = reportCommand(
  { name: 'drill', usage: 'drill NS/NAME [--snapshot NAME]', summary: 'restore the newest (or the named) snapshot into a scratch etcd on the worker and check it' },
  {
    async fetch({ target, options }, connection) {
      const cluster = clusterArg(target, options);
      const policy = (await describe(connection, cluster)).policy;
      if (!policy) throw new UsageError(`drill: ${cluster.namespace}/${cluster.name} has no schedule with a policy`);
      return runDrill(connection, policy, options.snapshot);
    },
    format: formatDrill,
    exitCode: (result) => (result.outcome === 'passed' ? 0 : 1),
  },
);
