// What every policy the config loader accepts must satisfy, whatever input it came from.
import { strict as assert } from 'node:assert';
import { OVERLAP_POLICIES, type ClusterRef, type SnapshotPolicy } from '../../../contracts/definitions';

const STORAGE_TYPES = ['s3', 'oci', 'container'];

export function assertValidPolicy(policy: SnapshotPolicy, cluster: ClusterRef, where: string): void {
  assert.deepEqual(policy.cluster, cluster, where);
  assert.ok(typeof policy.schedule === 'string' && policy.schedule.trim() !== '', `${where}: schedule`);
  assert.doesNotThrow(() => new Intl.DateTimeFormat('en', { timeZone: policy.timezone }), `${where}: timezone ${policy.timezone}`);
  for (const value of [policy.retention.periodDays, policy.retention.maxSnapshots, policy.volumes.concurrency]) {
    assert.ok(Number.isSafeInteger(value) && value > 0, `${where}: ${value} is not a positive integer`);
  }
  assert.ok(STORAGE_TYPES.includes(policy.storage.type), `${where}: storage type ${policy.storage.type}`);
  assert.ok(OVERLAP_POLICIES.includes(policy.overlap), `${where}: overlap ${policy.overlap}`);
  assert.ok(Number.isSafeInteger(policy.catchupWindowSeconds) && policy.catchupWindowSeconds > 0, `${where}: catch-up window`);
  // Plain JSON all the way down: it becomes the workflow input.
  assert.deepEqual(JSON.parse(JSON.stringify(policy)), policy, `${where}: not plain JSON`);
  // Inline credentials are flagged, never copied.
  assert.doesNotMatch(JSON.stringify(policy), /password|secret-access-key|"secretAccessKey"/i, `${where}: a credential value in the policy`);
}
