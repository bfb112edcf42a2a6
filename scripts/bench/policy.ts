// Normalized policies for the bench's clusters, pointing at the bench's own servers.
import type { SnapshotPolicy, StorageLocation } from '../../workflows/definitions';

export function benchPolicy(name: string, storage: StorageLocation, etcdEndpoint: string, overrides: Partial<SnapshotPolicy> = {}): SnapshotPolicy {
  return {
    cluster: { name, namespace: 'bench' },
    schedule: '0 * * * *',
    timezone: 'UTC',
    retention: { periodDays: 30, maxSnapshots: 30 },
    storage,
    volumes: { enabled: false, concurrency: 10 },
    overlap: 'SKIP',
    catchupWindowSeconds: 3600,
    state: { endpoints: [etcdEndpoint], origin: 'explicit' },
    ...overrides,
  };
}

export function s3Storage(endpoint: string, bucket: string): StorageLocation {
  return { type: 's3', bucket, prefix: 'bench', endpoint, forcePathStyle: true, insecureSkipTlsVerify: false, skipClientCredentials: false };
}
