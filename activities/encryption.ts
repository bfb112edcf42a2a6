// Which keys an archive is encrypted to (the worker's and the cluster's public keys), and the identities (private
// keys) verify, restore and drills decrypt with: read from the operator's Secret inside the activity, only once an
// archive turns out to be encrypted, and never returned, logged or put in an error.
import type { SnapshotPolicy } from '../contracts/definitions';
import { mergeRecipients, parseIdentities, type IdentitySource } from '../lib/archive/encryption';
import { pick, readSecret } from '../lib/kube/secrets';
import type { ActivityDeps } from './deps';

/** The Secret key holding the identities, one `AGE-SECRET-KEY-1...` per line (an age identity file). */
export const IDENTITIES_KEY = 'identities';

/** The recipients of a new archive of `policy`'s cluster: the worker's, then the cluster's own; empty = plain. */
export function recipientsFor(deps: ActivityDeps, policy: Pick<SnapshotPolicy, 'encryption'>): string[] {
  return mergeRecipients(deps.encryptionRecipients, policy.encryption?.recipients);
}

/** The identities of the worker's identity Secret, read when asked; undefined when the worker has none configured. */
export function identitySource(deps: ActivityDeps): IdentitySource | undefined {
  const ref = deps.encryptionIdentitySecret;
  if (!ref) return undefined;
  return async () => {
    // The operator's own Secret, like the alert webhook's: no tenant's scope applies to it.
    const data = await readSecret(deps.kube, ref, 'encryption identities', { namespace: ref.namespace, sharedNamespaces: [] });
    const text = pick(data, ref, [IDENTITIES_KEY])!.toString('utf8');
    return parseIdentities(text, `Secret ${ref.namespace}/${ref.name} (key ${IDENTITIES_KEY})`);
  };
}
