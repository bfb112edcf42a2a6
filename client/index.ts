// The client API platform code imports (`import { applyPolicy } from 'vcsnap'`): policies in, schedules, catalog,
// verify and restore out. Everything here needs only a Temporal connection and, for discovery, a host-cluster one.
export * from '../contracts/definitions';
export type { CatalogResult, StoredSnapshotEntry } from '../contracts/catalog';
export { ERROR_TYPES, NON_RETRYABLE_ERROR_TYPES, rootCause, rootMessage, type ErrorType } from '../contracts/errors';
export { scheduleIdFor, snapshotNameFor, nominalTimeOf } from '../contracts/naming';
export type { RestoreBatchLimits, RestoreReport, RestoreResult, RestoreTarget, SnapshotLocationRef, VerifyResult } from '../contracts/restore';
export * from '../lib/policy';
export { discoverClusters, type DiscoveredCluster } from '../lib/kube/discovery';
export {
  applyPolicy,
  backfill,
  describe,
  listPolicies,
  pause,
  removePolicy,
  resume,
  scheduleSync,
  sync,
  triggerNow,
  type ApplyOutcome,
  type PolicyDescription,
  type PolicySummary,
  type ScheduleTarget,
  type SyncReport,
} from '../lib/schedules';
export { listSnapshots, listSnapshotsOf, type CatalogEntry, type ClusterCatalog } from './catalog';
export { connectFromEnvironment } from './connection';
export { resolveSnapshotRef, restoreSnapshot, verifySnapshot, SnapshotActionError, type RestoreOptions, type SnapshotSourceOptions } from './restore';
export type { DrillChecks, DrillOutcome, DrillRefusal, DrillResult, DrillSummary, DrillWorkflowInput } from '../contracts/drill';
export type { AlertEvent, AlertKind } from '../contracts/alert';
export { applyDrillSchedule, removeDrillSchedule, listDrillSchedules, syncDrillSchedules, type DrillSyncReport } from '../lib/drill/schedules';
export { runDrill } from './drill';
export { exportSnapshot, type ExportOptions, type ExportResult } from './export';
export { clusterStatuses, type ClusterStatus } from './status';
