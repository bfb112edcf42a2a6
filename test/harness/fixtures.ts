// Builders for normalized policies pointing at the harness's servers.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { policyFor } from '../../lib/policy';
import type { SnapshotPolicy, StorageLocation } from '../../contracts/definitions';
import { testEnv } from './env';

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export function filePolicy(overrides: Partial<SnapshotPolicy> = {}): SnapshotPolicy {
  const name = overrides.cluster?.name ?? uniqueName('vc');
  const dir = join(testEnv().runDir, 'file-store', name);
  mkdirSync(dir, { recursive: true });
  return basePolicy({ type: 'container', path: dir }, { ...overrides, cluster: overrides.cluster ?? { name, namespace: 'team-a' } });
}

/**
 * A policy whose schedule fires only on 1 January: tests start runs with triggerNow or directly. With an hourly cron,
 * every schedule a suite had applied fired at the top of the hour and added runs no test was waiting for (a test
 * that wants a real cron passes its own `schedule`).
 */
export function basePolicy(storage: StorageLocation, overrides: Partial<SnapshotPolicy> = {}): SnapshotPolicy {
  const target = { schedule: '0 0 1 1 *', storage, etcdEndpoints: [testEnv().etcd.endpoint] };
  return policyFor({ name: uniqueName('vc'), namespace: 'team-a' }, target, overrides);
}

/**
 * Metadata that grants a Secret to virtual clusters in `namespaces` (label and annotation, see the Security model),
 * pinned to the harness's loopback servers (a credential used from another namespace must name where it may go).
 */
export function grantTo(...namespaces: string[]): { labels: Record<string, string>; annotations: Record<string, string> } {
  return {
    labels: { 'vcsnap.io/shareable': 'true' },
    annotations: { 'vcsnap.io/allowed-namespaces': namespaces.join(','), 'vcsnap.io/endpoints': '127.0.0.1:*, localhost:*' },
  };
}
