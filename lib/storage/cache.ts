// One store (and so one S3 client, Azure pipeline or registry client with its token) per storage location and
// credential per worker, reused by every activity instead of a new client (and new sockets) per call. Keyed by a
// digest of the location and the resolved credentials, so a rotated Secret gets a fresh client and no credential is
// kept as a map key or ever printed. Bounded: the least recently used store beyond `max` is dropped (not closed, as
// a running activity may still hold it; its idle sockets close with the server's keep-alive limit).
import { createHash } from 'node:crypto';
import type { StorageLocation } from '../../contracts/definitions';
import { createStore, type StoreClientOptions } from './index';
import type { SnapshotStore, StorageCredentials } from './types';

export class StoreCache {
  private readonly stores = new Map<string, SnapshotStore>();

  constructor(
    private readonly options: StoreClientOptions = {},
    private readonly max = 256,
  ) {}

  open(location: StorageLocation, credentials: StorageCredentials | undefined): SnapshotStore {
    const key = createHash('sha256').update(JSON.stringify([location, credentials ?? null])).digest('hex');
    let store = this.stores.get(key);
    if (store) this.stores.delete(key);
    else store = createStore(location, credentials, this.options);
    this.stores.set(key, store);
    if (this.stores.size > this.max) this.stores.delete(this.stores.keys().next().value!);
    return store;
  }

  /** At worker shutdown: closes every client. */
  close(): void {
    for (const store of this.stores.values()) store.close?.();
    this.stores.clear();
  }
}
