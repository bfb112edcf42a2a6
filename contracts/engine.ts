// Which engine takes a snapshot's state (SPEC 5). Pure and deterministic: the snapshot workflow decides with it.
import type { SnapshotEngine, SnapshotPolicy } from './definitions';

/** A forced engine wins; otherwise direct where the worker reaches the store (deployed/external etcd), request elsewhere. */
export function engineFor(policy: Pick<SnapshotPolicy, 'engine' | 'state'>): SnapshotEngine {
  if (policy.engine === 'direct' || policy.engine === 'request') return policy.engine;
  return policy.state.origin === 'none' || policy.state.endpoints.length === 0 ? 'request' : 'direct';
}
