// The one entry point to storage: a policy's location (plus credentials resolved inside the activity) -> a store.
import type { AzureLocation, FileLocation, OciLocation, S3Location, StorageLocation } from '../../contracts/definitions';
import { createAzureStore } from './azure';
import { badConfiguration } from './common';
import { createFileStore } from './file';
import { createOciStore } from './oci';
import { createS3Store } from './s3';
import type { AzureCredentials, RegistryCredentials, S3Credentials, SnapshotStore, StorageCredentials } from './types';

export type { ArchiveListing, ArchiveOwner, AzureCredentials, PutArchiveOptions, PutRecordOptions, RegistryCredentials, S3Credentials, SnapshotStore, StorageCredentials, StoredObject } from './types';

/** What the worker sets on every backend's network client. */
export interface StoreClientOptions {
  /**
   * How long a request may go without a byte (S3: socket idle limit; OCI: per request without a body, at most a
   * minute; Azure: per try, at least ten minutes, as the SDK bounds a whole try, body included).
   */
  requestIdleTimeoutMs?: number;
}

/**
 * Credentials are the resolved values, never logged: S3 `{accessKeyId, secretAccessKey, sessionToken?}` (undefined =
 * the AWS default chain), OCI `{username, password}` (undefined = anonymous), Azure `{accountKey}` or `{sasToken}`
 * (required), none for a directory.
 */
export function createStore(location: S3Location, credentials?: S3Credentials): SnapshotStore;
export function createStore(location: OciLocation, credentials?: RegistryCredentials): SnapshotStore;
export function createStore(location: FileLocation): SnapshotStore;
export function createStore(location: AzureLocation, credentials: AzureCredentials): SnapshotStore;
export function createStore(location: StorageLocation, credentials?: StorageCredentials, options?: StoreClientOptions): SnapshotStore;
export function createStore(location: StorageLocation, credentials?: StorageCredentials, options: StoreClientOptions = {}): SnapshotStore {
  const { requestIdleTimeoutMs: idle } = options;
  switch (location.type) {
    case 's3':
      if (credentials && !('accessKeyId' in credentials)) throw badConfiguration('S3 storage needs AWS access-key credentials, got a username/password');
      return createS3Store(location, credentials, { idleTimeoutMs: idle });
    case 'oci':
      if (credentials && !('username' in credentials)) throw badConfiguration('OCI storage needs a registry username/password, got AWS keys');
      return createOciStore(location, credentials, { requestTimeoutMs: idle && Math.min(idle, 60_000) });
    case 'container':
      return createFileStore(location);
    case 'azure':
      if (!credentials || !('accountKey' in credentials || 'sasToken' in credentials)) {
        throw badConfiguration('Azure Blob storage needs an account key or a SAS token from its credential Secret');
      }
      return createAzureStore(location, credentials, { tryTimeoutMs: idle && Math.max(idle, 10 * 60_000) });
  }
}

/** The host (`host[:port]`) a location's credentials are sent to, as a credential Secret's endpoint pin names it. */
export function credentialHost(location: StorageLocation): string | undefined {
  switch (location.type) {
    case 's3':
      if (location.endpoint) return new URL(location.endpoint).host;
      return location.region ? `s3.${location.region}.amazonaws.com` : 's3.amazonaws.com';
    case 'oci':
      return location.registry;
    case 'azure':
      return new URL(location.serviceUrl).host;
    case 'container':
      return undefined;
  }
}
