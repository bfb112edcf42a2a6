// Normalized policies for the bench's clusters, pointing at the bench's own servers.
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { policyFor } from '../../lib/policy';
import type { SnapshotPolicy, StorageLocation } from '../../contracts/definitions';

export function benchPolicy(name: string, storage: StorageLocation, etcdEndpoint: string, overrides: Partial<SnapshotPolicy> = {}): SnapshotPolicy {
  return policyFor({ name, namespace: 'bench' }, { schedule: '0 * * * *', storage, etcdEndpoints: [etcdEndpoint] }, overrides);
}

export function s3Storage(endpoint: string, bucket: string): StorageLocation {
  return { type: 's3', bucket, prefix: 'bench', endpoint, forcePathStyle: true, insecureSkipTlsVerify: false, skipClientCredentials: false };
}

/** A fresh age X25519 key pair for the encrypted dump; the identity reads it back in the verify row. */
export async function benchKeyPair(): Promise<{ identity: string; recipient: string }> {
  const identity = await generateIdentity();
  return { identity, recipient: await identityToRecipient(identity) };
}
