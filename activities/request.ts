// The request engine's activity (SPEC 5): file a vCluster snapshot request next to the virtual cluster, follow its
// phases until the vCluster control plane has stored the archive, then read the stored archive back through our own
// store for its digest and key count. The storage credentials travel only inside the request Secret, in the
// cluster's own namespace; vCluster deletes it when done, and so do we, whatever the outcome.
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { Context } from '@temporalio/activity';
import type { SnapshotPolicy, StoredSnapshot } from '../contracts/definitions';
import { failure } from '../contracts/errors';
import { verifyArchive } from '../lib/archive/verify';
import { checkedLock } from '../lib/storage/object-lock';
import { kubeCall, statusCodeOf, unlessNotFound } from '../lib/kube/errors';
import { buildRequest, outcomeOf, requestNameFor, requestStatusOf, requestVersionProblem, storageOptionsFor, type RequestStatus } from '../lib/vcluster/request';
import type { ActivityDeps } from './deps';
import { recipientsFor } from './encryption';
import { releaseFor, sendProgress } from './snapshot';
import { openStore, storageCredentialsFor } from './store';

async function ignoreConflict(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (err) {
    if (statusCodeOf(err) !== 409) throw err;
  }
}

export function createRequestActivities(deps: ActivityDeps) {
  return {
    async snapshotByRequest(args: { policy: SnapshotPolicy; snapshotName: string; nominalTime: string }): Promise<StoredSnapshot> {
      const context = Context.current();
      const { policy, snapshotName } = args;
      const { cluster } = policy;
      const where = `${cluster.namespace}/${cluster.name}`;
      const tooOld = requestVersionProblem(policy.release?.chartVersion);
      if (tooOld) throw failure('VclusterTooOld', `cluster ${where}: ${tooOld}`);
      // vCluster writes the archive itself under this engine, in the clear: never store it so when encryption is asked.
      if (recipientsFor(deps, policy).length > 0) {
        throw failure('StorageBadConfiguration', `cluster ${where}: encryption is configured, but under the request engine vCluster stores its own archive unencrypted; give vcsnap's worker access to the cluster's etcd (the direct engine) or turn encryption off for it`);
      }
      if (!deps.kube) throw failure('KubeUnavailable', `cluster ${where}: the request engine needs a host-cluster connection (set KUBECONFIG)`);
      const core = deps.kube.makeApiClient(k8s.CoreV1Api);
      const namespace = cluster.namespace;
      const name = requestNameFor(cluster, snapshotName, storageOptionsFor(policy.storage, snapshotName, undefined).url);
      const readRequest = () => kubeCall('get', 'configmaps', namespace, () => unlessNotFound(core.readNamespacedConfigMap({ name, namespace })));
      const deleteSecret = () => kubeCall('delete', 'secrets', namespace, () => unlessNotFound(core.deleteNamespacedSecret({ name, namespace })));

      // A retried attempt (worker killed while waiting) finds the request filed before and follows it.
      if (!(await readRequest())) {
        const objects = buildRequest({
          policy,
          snapshotName,
          createdAt: new Date(args.nominalTime),
          credentials: await storageCredentialsFor(deps, policy),
          release: await releaseFor(deps, policy),
        });
        const metadata = { name, namespace, labels: objects.labels };
        // The Secret first: vCluster reads it once it sees the ConfigMap.
        await kubeCall('create', 'secrets', namespace, () => ignoreConflict(core.createNamespacedSecret({ namespace, body: { metadata, stringData: objects.options } })));
        await kubeCall('create', 'configmaps', namespace, () => ignoreConflict(core.createNamespacedConfigMap({ namespace, body: { metadata, data: objects.request } })));
        context.log.info('snapshot request filed', { snapshotName, request: `${namespace}/${name}`, url: objects.url });
      }

      const pickupDeadline = Date.now() + deps.requestPickupTimeoutSeconds * 1000;
      let status: RequestStatus = { phase: '' };
      let reported: string | undefined;
      try {
        for (;;) {
          const configMap = await readRequest();
          if (!configMap) throw failure('VclusterRequestFailed', `snapshot request ${namespace}/${name} of ${where} was deleted before it finished`);
          status = requestStatusOf(configMap.data);
          if (status.phase !== reported) {
            reported = status.phase;
            // Awaited: the run's status shows the final phase before the activity's result arrives.
            await sendProgress(context, { keys: 0, bytes: 0, requestPhase: status.phase });
          }
          context.heartbeat({ requestPhase: status.phase });
          const outcome = outcomeOf(status);
          if (outcome.done && !outcome.ok) throw failure('VclusterRequestFailed', `vCluster ${where} failed snapshot request ${name}: ${outcome.reason}`);
          if (outcome.done) break;
          if (status.phase === '' && Date.now() > pickupDeadline) {
            throw failure(
              'VclusterRequestNotPickedUp',
              `vCluster ${where} did not pick up snapshot request ${name} within ${deps.requestPickupTimeoutSeconds}s: is its control plane running (and version ${policy.release?.chartVersion ?? 'unknown'} ≥ 0.30)?`,
            );
          }
          await sleep(deps.pollIntervalMs, undefined, { signal: context.cancellationSignal });
        }
      } catch (err) {
        // The run was cancelled: withdraw the request as vCluster does (deleting the ConfigMap makes its controller
        // drop the Secret; an upload already running cannot be stopped, its archive is never recorded). A worker
        // shutting down leaves the request, and its Secret, to the attempt that takes over.
        const handover = context.cancellationDetails?.workerShutdown === true;
        if (context.cancellationDetails?.cancelRequested) await kubeCall('delete', 'configmaps', namespace, () => unlessNotFound(core.deleteNamespacedConfigMap({ name, namespace })));
        // The credentials never outlive the request, whether or not the vCluster got to delete them.
        if (!handover) await deleteSecret();
        throw err;
      }
      await deleteSecret();

      // Read back what vCluster stored: the record's digest and counts are of the stored bytes.
      const store = await openStore(deps, policy);
      const report = await verifyArchive(await store.getArchive(snapshotName), undefined, {
        signal: context.cancellationSignal,
        onProgress: ({ entries }) => context.heartbeat({ requestPhase: status.phase, entries }),
      });
      if (!report.ok) throw failure('VclusterRequestFailed', `vCluster ${where} stored snapshot ${snapshotName}, but its archive is unreadable: ${report.problem?.message}`);
      // vCluster writes without a lock: the one the policy asks for is put on the stored archive afterwards.
      const locking = await checkedLock(store, policy, args.nominalTime, deps.clock(), `bucket of ${cluster.namespace}/${cluster.name}`);
      if (locking.lock) await store.lockArchive!(snapshotName, locking.lock);
      context.log.info('snapshot stored by vCluster', { snapshotName, request: `${namespace}/${name}`, bytes: report.archiveBytes, keys: report.keys, lockedUntil: locking.lock?.retainUntil });
      return { url: store.urlFor(snapshotName), bytes: report.archiveBytes, keys: report.keys, sha256: report.sha256, revision: '', ...locking };
    },
  };
}
