// Resolves Secret references inside activities. Secret values never leave this process: they are not returned to
// workflows, not logged, and not written to archives or records.
import * as k8s from '@kubernetes/client-node';
import type { SecretRef } from '../../contracts/definitions';
import { failure } from '../../contracts/errors';
import { statusCodeOf } from './errors';

export type SecretData = Record<string, Buffer>;

export async function readSecret(kube: k8s.KubeConfig | undefined, ref: SecretRef, purpose: string): Promise<SecretData> {
  if (!kube) {
    throw failure('SecretNotFound', `${purpose}: Secret ${ref.namespace}/${ref.name} is referenced but the worker has no host-cluster connection (set KUBECONFIG)`);
  }
  try {
    const secret = await kube.makeApiClient(k8s.CoreV1Api).readNamespacedSecret({ name: ref.name, namespace: ref.namespace });
    return Object.fromEntries(Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64')]));
  } catch (err) {
    const code = statusCodeOf(err);
    if (code === 404) throw failure('SecretNotFound', `${purpose}: Secret ${ref.namespace}/${ref.name} not found`);
    if (code === 403) throw failure('KubeForbidden', `${purpose}: not allowed to read Secret ${ref.namespace}/${ref.name} (RBAC: get secrets)`);
    throw err;
  }
}

/** The first of `keys` present in the Secret, or an error naming the Secret and the keys looked for. */
export function pick(data: SecretData, ref: SecretRef, keys: string[], optional = false): Buffer | undefined {
  for (const key of keys) if (data[key]?.length) return data[key];
  if (optional) return undefined;
  throw failure('SecretNotFound', `Secret ${ref.namespace}/${ref.name} has none of the keys ${keys.join(', ')}`);
}

/** PEM material for an etcd client, from vCluster's `<name>-certs` Secret keys or the generic `ca.crt`/`tls.*`. */
export async function readEtcdTls(kube: k8s.KubeConfig | undefined, ref: SecretRef, purpose: string): Promise<{ ca: Buffer; cert?: Buffer; key?: Buffer }> {
  const data = await readSecret(kube, ref, purpose);
  return {
    ca: pick(data, ref, ['etcd-ca.crt', 'ca.crt'])!,
    cert: pick(data, ref, ['apiserver-etcd-client.crt', 'etcd-client.crt', 'tls.crt'], true),
    key: pick(data, ref, ['apiserver-etcd-client.key', 'etcd-client.key', 'tls.key'], true),
  };
}
