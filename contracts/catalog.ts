// The catalog's shapes: what the stored side lists, and what the catalog workflow returns per cluster.
import type { ClusterRef, SnapshotPolicy } from './definitions';
import type { DrillSummary } from './drill';

export interface StoredSnapshotEntry {
  snapshotName: string;
  status: 'Completed' | 'PartiallyFailed' | 'Failed' | 'NotFound';
  url: string;
  nominalTime?: string;
  finishedAt?: string;
  bytes?: number;
  keys?: number;
  error?: string;
  /** 'vcsnap' = has our metadata record; 'external' = an archive someone else put there. */
  origin: 'vcsnap' | 'external';
  /** The snapshot's last restore drill. */
  drill?: Pick<DrillSummary, 'verifiedAt' | 'outcome' | 'refusal' | 'reason'>;
  /** End of the Object Lock its record says it was written with (ISO). */
  lockedUntil?: string;
  /** Policies with a copy location: the copy is there, gone from there, or was never made (its reason in `error`). */
  copy?: 'copied' | 'missing' | 'failed';
}

export interface CatalogResult {
  cluster: ClusterRef;
  entries: StoredSnapshotEntry[];
  error?: string;
}

export interface CatalogWorkflowInput {
  policies: SnapshotPolicy[];
}
/** `catalogWorkflow`'s signature, for clients that start it by name. */
export type CatalogWorkflow = (input: CatalogWorkflowInput) => Promise<CatalogResult[]>;
