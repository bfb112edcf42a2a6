// Opens a cluster's storage backend with its credentials resolved from the referenced Secret. Shared by the
// snapshot, retention and catalog activities.
import { ApplicationFailure } from '@temporalio/common';
import type { SnapshotPolicy } from '../workflows/definitions';
import type { ActivityDeps } from './index';
import { pick, readSecret } from './credentials';
import { createStore } from './storage';
import type { SnapshotStore, StorageCredentials } from './storage/types';

async function credentialsFor(deps: ActivityDeps, policy: SnapshotPolicy): Promise<StorageCredentials | undefined> {
  const { storage, cluster } = policy;
  const where = `storage of ${cluster.namespace}/${cluster.name}`;
  if (storage.type === 's3') {
    if (storage.inlineCredentialsInUrl) {
      throw ApplicationFailure.nonRetryable(`${where}: credentials inside the s3:// URL are not used by vcsnap; reference a Secret with storage.s3.credential`, 'StorageBadConfiguration');
    }
    if (!storage.credential || storage.skipClientCredentials) return undefined;
    const data = await readSecret(deps.kube, storage.credential, where);
    return {
      accessKeyId: pick(data, storage.credential, ['AWS_ACCESS_KEY_ID'])!.toString('utf8'),
      secretAccessKey: pick(data, storage.credential, ['AWS_SECRET_ACCESS_KEY'])!.toString('utf8'),
      sessionToken: pick(data, storage.credential, ['AWS_SESSION_TOKEN'], true)?.toString('utf8') || undefined,
    };
  }
  if (storage.type === 'oci') {
    if (storage.inlineCredential && !storage.credential) {
      throw ApplicationFailure.nonRetryable(`${where}: inline registry passwords are not used by vcsnap; reference a Secret with storage.oci.credential`, 'StorageBadConfiguration');
    }
    if (!storage.credential) return undefined;
    const data = await readSecret(deps.kube, storage.credential, where);
    return {
      username: pick(data, storage.credential, ['username'])!.toString('utf8'),
      password: pick(data, storage.credential, ['password'])!.toString('utf8'),
    };
  }
  return undefined;
}

export async function openStore(deps: ActivityDeps, policy: SnapshotPolicy): Promise<SnapshotStore> {
  return createStore(policy.storage, await credentialsFor(deps, policy));
}
