// Pure naming rules shared by the workflow, the client and the storage backends.
import type { ClusterRef, StorageLocation } from './definitions';

/** `2026-11-23T12:00:00.000Z` -> `2026-11-23T12-00-00Z`: sortable, valid in S3 keys, file names and OCI tags. */
export function snapshotTimestamp(time: Date): string {
  return time.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/:/g, '-');
}

/** `<vcluster>-<timestamp>`; the archive is `<snapshotName>.tar.gz` and the OCI tag is `<snapshotName>`. */
export function snapshotNameFor(clusterName: string, nominalTime: Date): string {
  return `${clusterName}-${snapshotTimestamp(nominalTime)}`;
}

const TIMESTAMP_SUFFIX = /-(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z)$/;

/** The nominal time encoded in a snapshot name, or undefined when the name is not one of ours. */
export function nominalTimeOf(snapshotName: string): Date | undefined {
  const match = TIMESTAMP_SUFFIX.exec(snapshotName);
  if (!match) return undefined;
  const [date, time] = match[1].split('T');
  const parsed = new Date(`${date}T${time.slice(0, -1).replace(/-/g, ':')}Z`);
  return Number.isNaN(parsed.getTime()) ? undefined : parsed;
}

/** Deterministic, readable schedule ID: `vcsnap.<namespace>.<name>` (namespace and name are DNS labels without dots). */
export function scheduleIdFor(cluster: ClusterRef): string {
  return `vcsnap.${cluster.namespace}.${cluster.name}`;
}

/** Workflow ID for runs started outside the schedule (CLI/API `run now` without a schedule). */
export function adHocWorkflowIdFor(cluster: ClusterRef, nominalTime: Date): string {
  return `${scheduleIdFor(cluster)}.${snapshotTimestamp(nominalTime)}`;
}

/** Deterministic child workflow ID for one PVC of one snapshot. */
export function volumeWorkflowIdFor(parentWorkflowId: string, pvcName: string): string {
  return `${parentWorkflowId}/pvc/${pvcName}`;
}

/** The drill schedule of a cluster: outside the `vcsnap.` prefix, so the snapshot schedules' listing never sees it. */
export function drillScheduleIdFor(cluster: ClusterRef): string {
  return `vcsnap-drill.${cluster.namespace}.${cluster.name}`;
}

/** The recovery point check of the clusters a task queue serves (one per worker fleet). */
export function recoveryPointScheduleIdFor(taskQueue: string): string {
  return `vcsnap-recovery-point.${taskQueue}`;
}

/** A storage location as a short URL-like text for reasons and logs (no credentials: locations hold none). */
export function locationText(location: StorageLocation): string {
  switch (location.type) {
    case 's3':
      return `s3://${location.bucket}/${location.prefix}${location.endpoint ? ` at ${location.endpoint}` : ''}`;
    case 'oci':
      return `oci://${location.registry}/${location.repository}`;
    case 'azure':
      return `${location.serviceUrl}/${location.container}/${location.prefix}`;
    case 'container':
      return `container://${location.path}`;
  }
}
