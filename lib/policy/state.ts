// Where a cluster's etcd key space is read from: an explicit `etcd` block, else what its vcluster.yaml deploys.
import { z } from 'zod';
import type { ClusterRef, StateSource } from '../../contracts/definitions';
import { secretRefSchema } from './credentials';
import { typeMessage } from './fields';
import { getIn } from './values';

const endpointSchema = z.string({ error: typeMessage('a URL string') }).transform((text, ctx) => {
  const endpoint = text.trim();
  if (!isEtcdUrl(endpoint)) {
    ctx.addIssue({ code: 'custom', message: `must be an http:// or https:// URL such as https://demo-etcd.team-a:2379, got "${endpoint}"` });
    return z.NEVER;
  }
  return endpoint.replace(/\/+$/, '');
});

function isEtcdUrl(text: string): boolean {
  try {
    const url = new URL(text);
    const plain = url.username === '' && url.password === '' && url.search === '' && url.hash === '';
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' && plain && (url.pathname === '/' || url.pathname === '');
  } catch {
    return false;
  }
}

/** The operator's explicit `etcd: {endpoints, tlsSecret}` block (e.g. kine exposed over TCP). */
export function explicitStateSchema(clusterNamespace: string) {
  return z
    .looseObject(
      {
        endpoints: z
          .preprocess((value) => (typeof value === 'string' ? [value] : value), z.array(endpointSchema, { error: typeMessage('a list of URLs') }))
          .refine((endpoints) => endpoints.length > 0, { error: 'must list at least one endpoint' }),
        tlsSecret: secretRefSchema(clusterNamespace).nullish(),
      },
      { error: typeMessage('a mapping') },
    )
    .transform(({ endpoints, tlsSecret }): StateSource => ({ endpoints, ...(tlsSecret ? { tlsSecret } : {}), origin: 'explicit' }));
}

/**
 * The state source implied by `controlPlane.backingStore`. A store the worker cannot reach is not a config error:
 * the policy stays valid and each snapshot fails with `unavailableReason`.
 */
export function deriveStateSource(values: unknown, cluster: ClusterRef, blockPath: string): StateSource {
  const etcd = ['controlPlane', 'backingStore', 'etcd'];
  const where = `vCluster ${cluster.namespace}/${cluster.name}`;
  const fix = `set ${blockPath}.etcd.endpoints (and etcd.tlsSecret) to an etcd v3 endpoint the worker can reach`;
  if (getIn(values, [...etcd, 'deploy', 'enabled']) === true) {
    return {
      endpoints: [`https://${cluster.name}-etcd.${cluster.namespace}:2379`],
      tlsSecret: { name: `${cluster.name}-certs`, namespace: cluster.namespace },
      origin: 'deployed-etcd',
    };
  }
  if (getIn(values, [...etcd, 'external', 'enabled']) === true) {
    const endpoint = getIn(values, [...etcd, 'external', 'endpoint']);
    if (typeof endpoint === 'string' && endpoint.trim() !== '') {
      const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint.trim()) ? endpoint.trim() : `https://${endpoint.trim()}`;
      return { endpoints: [url], origin: 'external-etcd' };
    }
    return unavailable(`${where} enables external etcd without controlPlane.backingStore.etcd.external.endpoint; ${fix}`);
  }
  if (getIn(values, [...etcd, 'embedded', 'enabled']) === true) {
    return unavailable(`${where} uses embedded etcd, which runs inside the vCluster pod; ${fix}`);
  }
  if (getIn(values, ['controlPlane', 'backingStore', 'database', 'external', 'enabled']) === true) {
    return unavailable(`${where} keeps its state in an external database behind kine inside the vCluster pod; expose kine over TCP and ${fix}`);
  }
  return unavailable(`${where} uses the embedded SQLite store, which is reachable only inside the vCluster pod; ${fix} (e.g. kine exposed over TCP)`);
}

function unavailable(unavailableReason: string): StateSource {
  return { endpoints: [], origin: 'none', unavailableReason };
}
