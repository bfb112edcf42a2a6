// Opens a cluster's storage backend with its credentials resolved from the referenced Secret. Shared by the
// snapshot, retention and catalog activities.
import type { ApplicationFailure } from '@temporalio/common';
import type { SecretRef, SnapshotPolicy } from '../contracts/definitions';
import { failure } from '../contracts/errors';
import { pick, readSecret, type SecretData } from '../lib/kube/secrets';
import { inlineCredentialsOf, type InlineCredentials } from '../lib/policy/inline-credentials';
import { createStore, credentialHost } from '../lib/storage';
import type { AzureCredentials, SnapshotStore, StorageCredentials } from '../lib/storage/types';
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
  if (storage.type === 'azure') {
    const data = await readSecret(deps.kube, storage.credential, where, scope, credentialHost(storage));
    return azureCredentialsOf(data, storage.credential, where);
  }
  return undefined;
}

/**
 * vCluster's names for what its Azure store reads: AZURE_STORAGE_KEY (the account key) or AZURE_STORAGE_BLOB_SAS. A
 * service principal (AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET) would need Microsoft Entra sign-in, which
 * this worker does not do: such a Secret is refused with that reason rather than as a missing key.
 */
function azureCredentialsOf(data: SecretData, ref: SecretRef, where: string): AzureCredentials {
  const accountKey = pick(data, ref, ['AZURE_STORAGE_KEY'], true)?.toString('utf8').trim();
  if (accountKey) return { accountKey };
  const sasToken = pick(data, ref, ['AZURE_STORAGE_BLOB_SAS'], true)?.toString('utf8').trim().replace(/^\?/, '');
  if (sasToken) return { sasToken };
  if (data.AZURE_CLIENT_SECRET?.length) {
    throw failure(
      'StorageBadConfiguration',
      `${where}: Secret ${ref.namespace}/${ref.name} holds a service principal (AZURE_CLIENT_SECRET), which is not supported; put the storage account key (AZURE_STORAGE_KEY) or a SAS token (AZURE_STORAGE_BLOB_SAS) in it`,
    );
  }
  return { accountKey: pick(data, ref, ['AZURE_STORAGE_KEY', 'AZURE_STORAGE_BLOB_SAS'])!.toString('utf8') };
}

export async function openStore(deps: ActivityDeps, policy: SnapshotPolicy, scope = secretScope(deps, policy.cluster)): Promise<SnapshotStore> {
  return createStore(policy.storage, await storageCredentialsFor(deps, policy, scope));
}

/** The policy as seen from its copy location: the same cluster, its `copy` as the storage (credentials by the same rules). */
export function copyPolicyOf(policy: SnapshotPolicy): SnapshotPolicy {
  if (!policy.copy) throw failure('StorageBadConfiguration', `cluster ${policy.cluster.namespace}/${policy.cluster.name} has no copy location`);
  return { ...policy, storage: policy.copy, copy: undefined };
}

/** The store of the policy's copy location, or undefined when it has none. */
export async function openCopyStore(deps: ActivityDeps, policy: SnapshotPolicy, scope = secretScope(deps, policy.cluster)): Promise<SnapshotStore | undefined> {
  return policy.copy ? openStore(deps, copyPolicyOf(policy), scope) : undefined;
}
