// Volume snapshots: what discovery plans per PVC and what each per-PVC child workflow is given.
import type { ClusterRef } from './definitions';

/** A PVC as discovery found it. */
export interface PlannedVolume {
  pvc: string;
  namespace: string;
  driver?: string;
  volumeSnapshotClass?: string;
  pvcSpec?: Record<string, unknown>;
  skipReason?: string;
}

export interface VolumeSnapshotInput {
  cluster: ClusterRef;
  snapshotName: string;
  volume: PlannedVolume;
  /** How long the CSI driver may take to make the snapshot ready; default: the worker's VCSNAP_VOLUME_READY_TIMEOUT (10 minutes). */
  readyTimeoutSeconds?: number;
}
