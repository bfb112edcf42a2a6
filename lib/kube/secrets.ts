// Resolves Secret references inside activities, within the asking tenant's reach. Secret values never leave this
// process: they are not returned to workflows, not logged, and not written to archives or records.
import * as k8s from '@kubernetes/client-node';
import type { SecretRef } from '../../contracts/definitions';
import { failure } from '../../contracts/errors';
import { statusCodeOf } from './errors';

export type SecretData = Record<string, Buffer>;

/** On a Secret shared with other namespaces: the label lets a worker find it without reading anything else. */
export const GRANT_LABEL = 'vcsnap.io/shareable';
/** On a shared Secret: the namespaces (comma-separated, `*` globs) whose virtual clusters may use it. */
export const GRANT_ANNOTATION = 'vcsnap.io/allowed-namespaces';
/**
 * On a storage credential: the hosts (comma-separated `host[:port]`, `*` globs) it may be sent to. Enforced wherever
 * present; required on a credential used from outside its own namespace (shared or granted), so a tenant cannot pair
 * someone else's credential with a host of its choosing.
 */
export const ENDPOINTS_ANNOTATION = 'vcsnap.io/endpoints';

/**
 * Who is asking: the host namespace of the virtual cluster whose input names the Secret (absent for an input that
 * names no cluster), and the namespaces the operator shares with every cluster (VCSNAP_SHARED_NAMESPACES).
 */
export interface SecretScope {
  namespace?: string;
  sharedNamespaces: readonly string[];
}

function globMatch(pattern: string, value: string): boolean {
  const regex = new RegExp(`^${pattern.trim().split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return regex.test(value);
}

function grantedBy(patterns: string | undefined, namespace: string | undefined): boolean {
  if (!namespace || !patterns) return false;
  return patterns.split(',').some((pattern) => pattern.trim() !== '' && globMatch(pattern, namespace));
}

function decoded(secret: k8s.V1Secret): SecretData {
  return Object.fromEntries(Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64')]));
}

/**
 * Reads a Secret a tenant's input names, within the tenant's reach (SPEC 9): its own namespace, the operator's shared
 * namespaces, or a Secret that grants itself to that namespace (label GRANT_LABEL=true and annotation
 * GRANT_ANNOTATION, in the spirit of Gateway API's ReferenceGrant). An ungranted Secret is never fetched: the worker
 * lists only Secrets of that name that carry the grant label, so the API server returns nothing of any other.
 */
export async function readSecret(kube: k8s.KubeConfig | undefined, ref: SecretRef, purpose: string, scope: SecretScope, sentTo?: string): Promise<SecretData> {
  if (!kube) {
    throw failure('SecretNotFound', `${purpose}: Secret ${ref.namespace}/${ref.name} is referenced but the worker has no host-cluster connection (set KUBECONFIG)`);
  }
  const core = kube.makeApiClient(k8s.CoreV1Api);
  const own = ref.namespace === scope.namespace || scope.sharedNamespaces.some((pattern) => globMatch(pattern, ref.namespace));
  try {
    if (own) return credentialFor(await core.readNamespacedSecret({ name: ref.name, namespace: ref.namespace }), ref, purpose, scope, sentTo);
    const listed = await core.listNamespacedSecret({ namespace: ref.namespace, fieldSelector: `metadata.name=${ref.name}`, labelSelector: `${GRANT_LABEL}=true` });
    const secret = listed.items[0];
    if (!secret || !grantedBy(secret.metadata?.annotations?.[GRANT_ANNOTATION], scope.namespace)) {
      const who = scope.namespace ? `virtual clusters in namespace ${scope.namespace}` : 'a request that names no virtual cluster';
      throw failure(
        'SecretNotGranted',
        `${purpose}: Secret ${ref.namespace}/${ref.name} is not granted to ${who}; grant it with the label ${GRANT_LABEL}=true and the annotation ` +
          `${GRANT_ANNOTATION}: "${scope.namespace ?? '<namespace>'}" on the Secret (globs allowed), or share its namespace with VCSNAP_SHARED_NAMESPACES`,
      );
    }
    return credentialFor(secret, ref, purpose, scope, sentTo);
  } catch (err) {
    const code = statusCodeOf(err);
    if (code === 404) throw failure('SecretNotFound', `${purpose}: Secret ${ref.namespace}/${ref.name} not found`);
    if (code === 403) throw failure('KubeForbidden', `${purpose}: not allowed to read Secret ${ref.namespace}/${ref.name} (RBAC: get secrets)`);
    throw err;
  }
}

/** The Secret's data, when it may be sent to `sentTo` (a storage host; absent = the values are not sent anywhere). */
function credentialFor(secret: k8s.V1Secret, ref: SecretRef, purpose: string, scope: SecretScope, sentTo: string | undefined): SecretData {
  if (sentTo === undefined) return decoded(secret);
  const host = sentTo.toLowerCase();
  const pinned = secret.metadata?.annotations?.[ENDPOINTS_ANNOTATION];
  if (pinned === undefined) {
    if (ref.namespace === scope.namespace) return decoded(secret);
    throw failure(
      'CredentialEndpointNotAllowed',
      `${purpose}: Secret ${ref.namespace}/${ref.name} is used from outside its namespace but does not say where it may be sent; ` +
        `add the annotation ${ENDPOINTS_ANNOTATION}: "${host}" (comma-separated hosts, globs allowed) to the Secret`,
    );
  }
  if (pinned.split(',').some((pattern) => pattern.trim() !== '' && globMatch(pattern.toLowerCase(), host))) return decoded(secret);
  throw failure(
    'CredentialEndpointNotAllowed',
    `${purpose}: Secret ${ref.namespace}/${ref.name} may be sent only to ${pinned.slice(0, 200)} (annotation ${ENDPOINTS_ANNOTATION}), not to ${host}`,
  );
}

/** The first of `keys` present in the Secret, or an error naming the Secret and the keys looked for. */
export function pick(data: SecretData, ref: SecretRef, keys: string[], optional = false): Buffer | undefined {
  for (const key of keys) if (data[key]?.length) return data[key];
  if (optional) return undefined;
  throw failure('SecretNotFound', `Secret ${ref.namespace}/${ref.name} has none of the keys ${keys.join(', ')}`);
}

/** PEM material for an etcd client, from vCluster's `<name>-certs` Secret keys or the generic `ca.crt`/`tls.*`. */
export async function readEtcdTls(kube: k8s.KubeConfig | undefined, ref: SecretRef, purpose: string, scope: SecretScope): Promise<{ ca: Buffer; cert?: Buffer; key?: Buffer }> {
  const data = await readSecret(kube, ref, purpose, scope);
  return {
    ca: pick(data, ref, ['etcd-ca.crt', 'ca.crt'])!,
    cert: pick(data, ref, ['apiserver-etcd-client.crt', 'etcd-client.crt', 'tls.crt'], true),
    key: pick(data, ref, ['apiserver-etcd-client.key', 'etcd-client.key', 'tls.key'], true),
  };
}

/** `svc.ns`, `svc.ns.svc`, `svc.ns.svc.cluster.local`: a Service of another namespace, by its DNS name. */
const SERVICE_HOST = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.svc(\.cluster\.local)?)?\.?$/;

/**
 * Why an etcd endpoint is out of the tenant's reach, or undefined: a Service in another host namespace than the
 * cluster's is reachable only when the operator shares that namespace (VCSNAP_SHARED_NAMESPACES). Addresses and other
 * host names cannot be told apart by namespace and are the operator's to allow (network policy).
 */
export function endpointOutOfScope(endpoint: string, scope: SecretScope): string | undefined {
  let host: string;
  try {
    host = new URL(endpoint.includes('://') ? endpoint : `https://${endpoint}`).hostname.toLowerCase();
  } catch {
    return undefined;
  }
  const namespace = SERVICE_HOST.exec(host)?.[2];
  if (!namespace || namespace === scope.namespace || scope.sharedNamespaces.some((pattern) => globMatch(pattern, namespace))) return undefined;
  return `etcd endpoint ${host} is a Service in namespace ${namespace}, outside the cluster's namespace ${scope.namespace ?? '(none)'}; share that namespace with VCSNAP_SHARED_NAMESPACES to allow it`;
}

/** Fails (EndpointNotGranted) on the first endpoint out of `scope`, naming `whose` endpoints they are. */
export function assertEndpointsInScope(endpoints: readonly string[], scope: SecretScope, whose: string): void {
  for (const endpoint of endpoints) {
    const outOfScope = endpointOutOfScope(endpoint, scope);
    if (outOfScope) throw failure('EndpointNotGranted', `${whose}: ${outOfScope}`);
  }
}
