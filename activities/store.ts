// Opens a cluster's storage backend with its credentials resolved from the referenced Secret. Shared by the
// snapshot, retention and catalog activities.
import type { ApplicationFailure } from '@temporalio/common';
import type { SnapshotPolicy } from '../contracts/definitions';
import { failure } from '../contracts/errors';
import { pick, readSecret } from '../lib/kube/secrets';
import { inlineCredentialsOf, type InlineCredentials } from '../lib/policy/inline-credentials';
import { createStore, credentialHost } from '../lib/storage';
import type { SnapshotStore, StorageCredentials } from '../lib/storage/types';
import { secretScope, type ActivityDeps } from './deps';

/**
 * Inline credentials (S3 URL query options, OCI username/password) are kept out of policies and histories: they are
 * read again from the cluster's `vc-config-<name>` Secret, where vCluster keeps its values.
 */
async function inlineCredentials(deps: ActivityDeps, policy: SnapshotPolicy, where: string): Promise<InlineCredentials> {
  const ref = { name: `vc-config-${policy.cluster.name}`, namespace: policy.cluster.namespace };
  const data = await readSecret(deps.kube, ref, `${where} (inline credentials live in the vCluster's values)`, secretScope(deps, policy.cluster));
  return inlineCredentialsOf(pick(data, ref, ['config.yaml'])!.toString('utf8'));
}

function missingInline(where: string): ApplicationFailure {
  return failure('StorageBadConfiguration', `${where}: the configuration has inline credentials, but the vc-config Secret holds none; reference a Secret instead`);
}

/** `scope`: whose grants apply (default: the policy's cluster). */
export async function storageCredentialsFor(deps: ActivityDeps, policy: SnapshotPolicy, scope = secretScope(deps, policy.cluster)): Promise<StorageCredentials | undefined> {
  const { storage, cluster } = policy;
  const where = `storage of ${cluster.namespace}/${cluster.name}`;
  if (storage.type === 's3') {
    if (storage.inlineCredentialsInUrl) {
      const inline = await inlineCredentials(deps, policy, where);
      if (!inline.s3) throw missingInline(where);
      return inline.s3;
    }
    if (!storage.credential || storage.skipClientCredentials) return undefined;
    const data = await readSecret(deps.kube, storage.credential, where, scope, credentialHost(storage));
    return {
      accessKeyId: pick(data, storage.credential, ['AWS_ACCESS_KEY_ID'])!.toString('utf8'),
      secretAccessKey: pick(data, storage.credential, ['AWS_SECRET_ACCESS_KEY'])!.toString('utf8'),
      sessionToken: pick(data, storage.credential, ['AWS_SESSION_TOKEN'], true)?.toString('utf8') || undefined,
    };
  }
  if (storage.type === 'oci') {
    if (storage.inlineCredential && !storage.credential) {
      const inline = await inlineCredentials(deps, policy, where);
      if (!inline.oci) throw missingInline(where);
      return inline.oci;
    }
    if (!storage.credential) return undefined;
    const data = await readSecret(deps.kube, storage.credential, where, scope, credentialHost(storage));
    return {
      username: pick(data, storage.credential, ['username'])!.toString('utf8'),
      password: pick(data, storage.credential, ['password'])!.toString('utf8'),
    };
  }
  return undefined;
}

export async function openStore(deps: ActivityDeps, policy: SnapshotPolicy, scope = secretScope(deps, policy.cluster)): Promise<SnapshotStore> {
  return createStore(policy.storage, await storageCredentialsFor(deps, policy, scope));
}
