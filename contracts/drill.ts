// Restore drills: the drill workflow's input and result, and the summary kept in the drilled snapshot's record.
// Deterministic: the workflow bundle imports it.
import type { ClusterRef, SnapshotPolicy } from './definitions';

/** Why a drill stopped before restoring anything: each names what an operator must look at. */
export type DrillRefusal =
  /** No Completed or PartiallyFailed snapshot in the catalog yet. */
  | 'no-snapshot'
  /** The record exists but the archive is gone from storage (vCluster would restore from nothing, loft-sh/vcluster#3958). */
  | 'archive-missing'
  /** The stored bytes differ from the digest in the record. */
  | 'digest-mismatch'
  /** The archive does not read (gzip, tar or layout damage). */
  | 'archive-corrupt'
  /** The archive reads cleanly but its key count or size differs from the record's. */
  | 'record-mismatch';

export type DrillOutcome = 'passed' | 'failed' | 'refused';

export interface DrillWorkflowInput {
  policy: SnapshotPolicy;
  /** Drill this snapshot instead of the newest restorable one. */
  snapshotName?: string;
}

/** What the restore-and-check step measured in the scratch etcd. */
export interface DrillChecks {
  keysArchived: number;
  keysRestored: number;
  /** Keys whose value in the scratch etcd differs from the archive's, or that are missing there (first few named). */
  mismatchedKeys: number;
  mismatchExamples: string[];
  /** The scratch etcd's revision after the restore, and what it must be (its revision before + one per restore transaction). */
  revision: number;
  expectedRevision: number;
  /** Objects per resource (`configmaps`, `deployments.apps`, ...), decoded from the restored values. */
  objects: Record<string, number>;
  /** Values that are neither a Kubernetes JSON object nor a protobuf envelope (first few named). */
  undecodable: number;
  undecodableExamples: string[];
  /** Set when the drill started a kube-apiserver on the restored etcd. */
  apiServer?: { resourceTypes: number; objects: Record<string, number>; problems: string[] };
  problems: string[];
}

/** The drill's summary, kept in the drilled snapshot's metadata record (`drill`). */
export interface DrillSummary {
  verifiedAt: string;
  outcome: DrillOutcome;
  refusal?: DrillRefusal;
  reason?: string;
  durationSeconds: number;
  keys?: number;
  objects?: Record<string, number>;
  apiServerChecked?: boolean;
  workflowId?: string;
}

export interface DrillResult extends DrillSummary {
  cluster: ClusterRef;
  snapshotName?: string;
  checks?: DrillChecks;
}

/** `drillWorkflow`'s signature, for clients that start it by name. */
export type DrillWorkflow = (input: DrillWorkflowInput) => Promise<DrillResult>;
