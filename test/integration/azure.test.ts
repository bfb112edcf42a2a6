// Azure Blob credentials as the worker resolves them: from a host-cluster Secret under vCluster's key names
// (AZURE_STORAGE_KEY, AZURE_STORAGE_BLOB_SAS), through the same grants as every other Secret, against Azurite.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { ContainerSASPermissions, generateBlobSASQueryParameters, StorageSharedKeyCredential } from '@azure/storage-blob';
import { ApplicationFailure } from '@temporalio/common';
import { openStore } from '../../activities/store';
import type { ActivityDeps } from '../../activities/deps';
import type { AzureLocation, SnapshotPolicy } from '../../contracts/definitions';
import { azureLocation, createAzureContainer, createCredentialSecret } from '../harness/azure';
import { testEnv } from '../harness/env';
import { basePolicy, uniqueName } from '../harness/fixtures';
import { adminKube } from '../harness/temporal';

function deps(): ActivityDeps {
  return { kube: adminKube(), sharedNamespaces: [] } as unknown as ActivityDeps;
}

function policyFor(storage: AzureLocation, namespace: string): SnapshotPolicy {
  const policy = basePolicy(storage);
  return { ...policy, cluster: { name: policy.cluster.name, namespace } };
}

async function roundTrip(policy: SnapshotPolicy): Promise<void> {
  const store = await openStore(deps(), policy);
  const data = randomBytes(4096);
  const stored = await store.putArchive('demo-2026-11-23T12-00-00Z', Readable.from([data]));
  assert.equal(stored.bytes, data.length);
  assert.deepEqual((await store.listArchives()).map((a) => a.snapshotName), ['demo-2026-11-23T12-00-00Z']);
}

function failureOf(type: string, pattern: RegExp): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, type, err.message);
    assert.match(err.message, pattern);
    return true;
  };
}

describe('azure: credentials from a Secret', () => {
  const namespace = uniqueName('azure-team');

  it('reads the account key (AZURE_STORAGE_KEY) from a Secret in the cluster namespace', async () => {
    await roundTrip(policyFor(await azureLocation(namespace, 'key'), namespace));
  });

  it('reads a SAS token (AZURE_STORAGE_BLOB_SAS, with or without its leading "?")', async () => {
    const { serviceUrl, accountName, accountKey } = testEnv().azurite;
    const container = await createAzureContainer();
    const sas = generateBlobSASQueryParameters(
      { containerName: container, permissions: ContainerSASPermissions.parse('racwdl'), expiresOn: new Date(Date.now() + 3600_000) },
      new StorageSharedKeyCredential(accountName, accountKey),
    ).toString();
    for (const value of [sas, `?${sas}`]) {
      const credential = await createCredentialSecret(namespace, { AZURE_STORAGE_BLOB_SAS: value });
      await roundTrip(policyFor({ type: 'azure', serviceUrl, accountName, container, prefix: uniqueName('sas'), credential }, namespace));
    }
  });

  it('refuses a service principal as not supported, and a Secret without either key by naming the keys', async () => {
    const { serviceUrl, accountName } = testEnv().azurite;
    const container = await createAzureContainer();
    const principal = await createCredentialSecret(namespace, { AZURE_TENANT_ID: 't', AZURE_CLIENT_ID: 'c', AZURE_CLIENT_SECRET: 'principal-secret-9x' });
    await assert.rejects(
      openStore(deps(), policyFor({ type: 'azure', serviceUrl, accountName, container, prefix: '', credential: principal }, namespace)),
      failureOf('StorageBadConfiguration', /service principal .* not supported; put the storage account key \(AZURE_STORAGE_KEY\) or a SAS token/),
    );
    const empty = await createCredentialSecret(namespace, { unrelated: 'value' });
    await assert.rejects(
      openStore(deps(), policyFor({ type: 'azure', serviceUrl, accountName, container, prefix: '', credential: empty }, namespace)),
      failureOf('SecretNotFound', /has none of the keys AZURE_STORAGE_KEY, AZURE_STORAGE_BLOB_SAS/),
    );
  });

  it("refuses another namespace's Secret that is not granted, without fetching it", async () => {
    const other = uniqueName('azure-other');
    const location = await azureLocation(other, 'x');
    await assert.rejects(openStore(deps(), policyFor(location, namespace)), failureOf('SecretNotGranted', new RegExp(`${other}/${location.credential.name}`)));
  });
});
