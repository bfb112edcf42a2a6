// Azure Blob locations on the harness Azurite: a fresh container, and the account key in a host-cluster Secret, the
// way an operator gives the worker Azure credentials (vCluster's key name AZURE_STORAGE_KEY).
import * as k8s from '@kubernetes/client-node';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import type { AzureLocation, SecretRef } from '../../contracts/definitions';
import { testEnv } from './env';
import { uniqueName } from './fixtures';
import { adminKube } from './temporal';

export function azuriteService(): BlobServiceClient {
  const { serviceUrl, accountName, accountKey } = testEnv().azurite;
  return new BlobServiceClient(serviceUrl, new StorageSharedKeyCredential(accountName, accountKey));
}

export async function createAzureContainer(prefix = 'vcsnap'): Promise<string> {
  const container = uniqueName(prefix);
  await azuriteService().getContainerClient(container).create();
  return container;
}

/** A Secret in `namespace` (created when missing) holding `data`, e.g. `{AZURE_STORAGE_KEY: key}`. */
export async function createCredentialSecret(namespace: string, data: Record<string, string>): Promise<SecretRef> {
  const core = adminKube().makeApiClient(k8s.CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } }).catch((err: unknown) => {
    if ((err as { code?: number }).code !== 409) throw err;
  });
  const name = uniqueName('azure-cred');
  await core.createNamespacedSecret({ namespace, body: { metadata: { name }, stringData: data } });
  return { name, namespace };
}

/** A fresh container on Azurite, with the account key in a Secret of `namespace`. */
export async function azureLocation(namespace: string, prefix = 'team-a/demo'): Promise<AzureLocation> {
  const { serviceUrl, accountName, accountKey } = testEnv().azurite;
  const container = await createAzureContainer();
  const credential = await createCredentialSecret(namespace, { AZURE_STORAGE_KEY: accountKey });
  return { type: 'azure', serviceUrl, accountName, container, prefix, credential };
}
