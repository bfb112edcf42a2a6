// Dump the cluster's etcd into a vCluster-compatible archive streamed straight into storage, and write the
// metadata record beside it.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import * as k8s from '@kubernetes/client-node';
import type { SnapshotPolicy, SnapshotRecord } from '../workflows/definitions';
import { createArchiveWriter } from './archive';
import { pick, readSecret } from './credentials';
import { dumpEtcd, type EtcdConnection, type ReleaseInfo } from './etcd-dump';
import type { ActivityDeps } from './index';
import { openStore } from './store';

export interface StoredSnapshot {
  url: string;
  bytes: number;
  keys: number;
  sha256: string;
  revision: string;
}

async function etcdConnectionFor(deps: ActivityDeps, policy: SnapshotPolicy): Promise<EtcdConnection> {
  const { state, cluster } = policy;
  if (state.origin === 'none' || state.endpoints.length === 0) {
    throw ApplicationFailure.nonRetryable(
      `cluster ${cluster.namespace}/${cluster.name}: state not reachable: ${state.unavailableReason ?? 'no etcd endpoint configured'}`,
      'StateSourceUnavailable',
    );
  }
  if (!state.tlsSecret) return { endpoints: state.endpoints };
  const data = await readSecret(deps.kube, state.tlsSecret, `etcd TLS of ${cluster.namespace}/${cluster.name}`);
  return {
    endpoints: state.endpoints,
    tls: {
      ca: pick(data, state.tlsSecret, ['etcd-ca.crt', 'ca.crt'])!,
      cert: pick(data, state.tlsSecret, ['apiserver-etcd-client.crt', 'etcd-client.crt', 'tls.crt'], true),
      key: pick(data, state.tlsSecret, ['apiserver-etcd-client.key', 'etcd-client.key', 'tls.key'], true),
    },
  };
}

/** The release entry, from the cluster's `vc-config-<name>` Secret (values) and the policy's chart identity. */
async function releaseFor(deps: ActivityDeps, policy: SnapshotPolicy): Promise<ReleaseInfo | undefined> {
  if (!deps.kube || !policy.release) return undefined;
  const { name, namespace } = policy.cluster;
  try {
    const secret = await deps.kube.makeApiClient(k8s.CoreV1Api).readNamespacedSecret({ name: `vc-config-${name}`, namespace });
    const values = secret.data?.['config.yaml'];
    if (!values) return undefined;
    return { releaseName: name, releaseNamespace: namespace, ...policy.release, valuesYaml: Buffer.from(values, 'base64').toString('utf8') };
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

export function createSnapshotActivities(deps: ActivityDeps) {
  return {
    async dumpAndStore(args: { policy: SnapshotPolicy; snapshotName: string; nominalTime: string }): Promise<StoredSnapshot> {
      const context = Context.current();
      const { policy, snapshotName } = args;
      const store = await openStore(deps, policy);
      const connection = await etcdConnectionFor(deps, policy);
      const release = await releaseFor(deps, policy);
      const url = store.urlFor(snapshotName);
      const writer = createArchiveWriter();
      const upload = store.putArchive(snapshotName, writer.stream, context.cancellationSignal);
      upload.catch(() => undefined);
      let dumped;
      try {
        dumped = await dumpEtcd(connection, writer, {
          release,
          request: { name: snapshotName, creationTimestamp: args.nominalTime, url },
          signal: context.cancellationSignal,
          onProgress: (keys, bytes) => context.heartbeat({ keys, bytes }),
        });
        await writer.finish();
      } catch (err) {
        // Fail the stream so the upload aborts and nothing truncated becomes visible.
        writer.abort(err instanceof Error ? err : new Error(String(err)));
        await upload.catch(() => undefined);
        throw err;
      }
      const stored = await upload;
      context.log.info('snapshot stored', { snapshotName, url: stored.url, bytes: stored.bytes, keys: dumped.keys });
      return { url: stored.url, bytes: stored.bytes, keys: dumped.keys, sha256: stored.sha256, revision: dumped.revision };
    },

    async writeRecord(args: { policy: SnapshotPolicy; record: SnapshotRecord }): Promise<void> {
      const store = await openStore(deps, args.policy);
      await store.putRecord(args.record);
    },
  };
}
