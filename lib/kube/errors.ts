// The one Kubernetes error mapping: every host-cluster call names its verb and resource, so a 403 says which
// permission is missing (KubeForbidden, final), and a 404 can be read as "already gone" where that is the answer.
import { failure } from '../../contracts/errors';

export function statusCodeOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Runs `call`; a 403 becomes KubeForbidden naming the verb, the resource and the namespace. */
export async function kubeCall<T>(verb: string, resource: string, namespace: string | undefined, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (statusCodeOf(err) === 403) throw failure('KubeForbidden', `forbidden: cannot ${verb} ${resource}${namespace ? ` in namespace ${namespace}` : ''}`);
    throw err;
  }
}

/** The call's result, or undefined where the object does not exist. */
export async function unlessNotFound<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (err) {
    if (statusCodeOf(err) === 404) return undefined;
    throw err;
  }
}
