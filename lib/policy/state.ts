// Where a cluster's etcd key space is read from: an explicit `etcd` block, else what its vcluster.yaml deploys.
import { z } from 'zod';
import type { ClusterRef, StateSource } from '../../contracts/definitions';
import { secretRefSchema } from './credentials';
import { mapping, typeMessage } from './fields';
import { joinPath, type ConfigIssue } from './issues';
import { getIn } from './values';

/**
 * Why an endpoint carries credentials, or undefined. Any "@" counts: an etcd endpoint has no path or query where
 * one could legitimately appear, and `user:pass@host:2379` without a scheme is no URL for `new URL` to take apart.
 */
export function userInfoReason(endpoint: string): string | undefined {
  if (!endpoint.includes('@')) return undefined;
  return 'must not carry a user name or password ("user:password@"; it is neither kept nor shown); give etcd a client certificate in a Secret (etcd.tlsSecret) instead';
}

// Only a value made of these is echoed in a message: anything else (a query, percent-encoding, "@") may hold a secret.
const ECHOABLE = /^[A-Za-z0-9._~:/[\]-]{1,200}$/;

const endpointSchema = z.string({ error: typeMessage('a URL string') }).transform((text, ctx) => {
  const endpoint = text.trim();
  const credentials = userInfoReason(endpoint);
  if (credentials !== undefined) {
    ctx.addIssue({ code: 'custom', message: credentials });
    return z.NEVER;
  }
  if (!isEtcdUrl(endpoint)) {
    const got = ECHOABLE.test(endpoint) ? `, got "${endpoint}"` : ' (without a path, query or fragment)';
    ctx.addIssue({ code: 'custom', message: `must be an http:// or https:// URL such as https://demo-etcd.team-a:2379${got}` });
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
  return mapping({
    endpoints: z
      .preprocess((value) => (typeof value === 'string' ? [value] : value), z.array(endpointSchema, { error: typeMessage('a list of URLs') }))
      .refine((endpoints) => endpoints.length > 0, { error: 'must list at least one endpoint' }),
    tlsSecret: secretRefSchema(clusterNamespace).nullish(),
  }).transform(({ endpoints, tlsSecret }): StateSource => ({ endpoints, ...(tlsSecret ? { tlsSecret } : {}), origin: 'explicit' }));
}

/**
 * The state source implied by `controlPlane.backingStore`. A store the worker cannot reach is not a config error:
 * the policy stays valid and each snapshot fails with `unavailableReason`. Credentials in the external endpoint are:
 * the policy travels in schedule arguments and workflow history.
 */
export function deriveStateSource(values: unknown, cluster: ClusterRef, blockPath: string): StateSource | ConfigIssue {
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
      const credentials = userInfoReason(endpoint);
      if (credentials !== undefined) return { path: joinPath('', [...etcd, 'external', 'endpoint']), message: credentials };
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
