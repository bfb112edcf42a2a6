// The worker's record signing key (lib/record-signature): VCSNAP_RECORD_KEY (base64, for operators who manage it
// themselves), else the Secret `vcsnap-record-key` in the worker's own namespace, created with a random key on first
// start. Every replica reads the same Secret, so any of them verifies what another signed; losing it only means older
// records' volume snapshots are left in place (and reported) instead of deleted.
import { randomBytes } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { statusCodeOf } from './errors';

export const RECORD_KEY_SECRET = 'vcsnap-record-key';
const KEY_FIELD = 'key';

export async function loadRecordKey(kube: k8s.KubeConfig | undefined, namespace: string, env: NodeJS.ProcessEnv = process.env): Promise<Buffer | undefined> {
  if (env.VCSNAP_RECORD_KEY) return Buffer.from(env.VCSNAP_RECORD_KEY, 'base64');
  if (!kube) return undefined;
  const core = kube.makeApiClient(k8s.CoreV1Api);
  const read = async () => {
    const encoded = (await core.readNamespacedSecret({ name: RECORD_KEY_SECRET, namespace })).data?.[KEY_FIELD];
    return encoded ? Buffer.from(encoded, 'base64') : undefined;
  };
  try {
    return await read();
  } catch (err) {
    if (statusCodeOf(err) !== 404) throw err;
  }
  const key = randomBytes(32);
  try {
    await core.createNamespacedSecret({ namespace, body: { metadata: { name: RECORD_KEY_SECRET }, data: { [KEY_FIELD]: key.toString('base64') } } });
    return key;
  } catch (err) {
    // Another replica created it first: use theirs.
    if (statusCodeOf(err) === 409) return read();
    // No such namespace (a worker outside the cluster it serves): run unsigned, as without a host cluster.
    if (statusCodeOf(err) === 404) return undefined;
    throw err;
  }
}
