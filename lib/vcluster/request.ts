// vCluster snapshot requests (the request engine, SPEC 5): the ConfigMap + Secret pair that `vcluster snapshot create`
// and vCluster Platform file next to a virtual cluster, which the vCluster control plane's snapshot-request
// controller takes from its own store (any backing store) and uploads. Shapes follow vCluster v0.36.1
// (pkg/snapshot/request.go, controller.go; github.com/loft-sh/api/v4 pkg/snapshot request.go and options.go).
// Pure: building the objects, reading their status, mapping phases and checking the chart version.
import { createHash } from 'node:crypto';
import type { ClusterRef, SnapshotPolicy, StorageLocation } from '../../contracts/definitions';
import { ARCHIVE_SUFFIX } from '../storage/common';
import type { StorageCredentials } from '../storage/types';

export const REQUEST_LABEL = 'vcluster.loft.sh/snapshot-request';
export const VCLUSTER_NAME_LABEL = 'vcluster.loft.sh/vcluster-name';
export const VCLUSTER_NAMESPACE_LABEL = 'vcluster.loft.sh/vcluster-namespace';
/** The product's own label: which snapshot a request is for (a retried activity finds its request by name). */
export const SNAPSHOT_NAME_LABEL = 'vcsnap.io/snapshot';
export const REQUEST_KEY = 'snapshotRequest';
export const OPTIONS_KEY = 'snapshotOptions';

/** The first vCluster whose controller speaks the request JSON used here (metadata, spec.url, status.error). */
export const MIN_REQUEST_VERSION = '0.30.0';

/** Phases of a vCluster snapshot request (api request.go); '' = not picked up yet. */
export type RequestPhase =
  | ''
  | 'CreatingEtcdBackup'
  | 'CreatingVolumeSnapshots'
  | 'Completed'
  | 'PartiallyFailed'
  | 'Failed'
  | 'Canceling'
  | 'Canceled'
  | 'Unknown';

export interface RequestStatus {
  phase: RequestPhase;
  error?: string;
}

/** What vCluster keeps in the ConfigMap's `snapshotRequest` (never credentials). */
export interface SnapshotRequestJson {
  metadata: { name: string; creationTimestamp: string };
  spec: { url: string };
  status: { phase?: string; error: { message?: string } };
}

export interface RequestRelease {
  releaseName: string;
  releaseNamespace: string;
  chartName: string;
  chartVersion: string;
  /** The Helm values YAML; base64-encoded in the options, as Go encodes []byte. */
  valuesYaml: string;
}

export interface RequestObjects {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  /** ConfigMap data. */
  request: Record<string, string>;
  /** Secret stringData: the storage options with resolved credentials. Only ever sent to the host API server. */
  options: Record<string, string>;
  /** The archive's URL as vCluster names it (`spec.url`). */
  url: string;
}

/**
 * Deterministic request name for one snapshot of one cluster to one location (`url`, vCluster's `spec.url`): a retried
 * activity finds its request instead of filing a second one, and a request for another location (a changed policy)
 * is never mistaken for it. Kubernetes names are lowercase; the hash keeps names apart after lowercasing and cutting.
 */
export function requestNameFor(cluster: ClusterRef, snapshotName: string, url: string): string {
  const hash = createHash('sha256').update(`${cluster.namespace}/${cluster.name}/${snapshotName}\n${url}`).digest('hex').slice(0, 10);
  const readable = `${snapshotName.toLowerCase().replace(/[^a-z0-9-]/g, '-')}`.slice(0, 40).replace(/-+$/, '');
  return `${readable}-snapshot-request-${hash}`;
}

function objectKey(prefix: string, snapshotName: string): string {
  return `${prefix ? `${prefix}/` : ''}${snapshotName}${ARCHIVE_SUFFIX}`;
}

/** vCluster's storage options (kebab-case keys inside each block) and `spec.url` for one location. */
export function storageOptionsFor(storage: StorageLocation, snapshotName: string, credentials: StorageCredentials | undefined): { options: Record<string, unknown>; url: string } {
  if (storage.type === 's3') {
    const key = objectKey(storage.prefix, snapshotName);
    const s3Credentials = credentials && 'accessKeyId' in credentials ? credentials : undefined;
    const s3 = {
      bucket: storage.bucket,
      key,
      // vCluster's S3 store sets no region for a custom endpoint unless told; MinIO and most S3 peers accept us-east-1.
      region: storage.region ?? (storage.endpoint ? 'us-east-1' : undefined),
      url: storage.endpoint,
      'force-path-style': storage.forcePathStyle || undefined,
      'insecure-skip-tls-verify': storage.insecureSkipTlsVerify || undefined,
      'checksum-algorithm': storage.checksumAlgorithm,
      'kms-key-id': storage.kmsKeyId,
      'server-side-encryption': storage.serverSideEncryption,
      tagging: storage.tagging,
      'access-key-id': s3Credentials?.accessKeyId,
      'secret-access-key': s3Credentials?.secretAccessKey,
      'session-token': s3Credentials?.sessionToken,
    };
    return { options: { type: 's3', s3 }, url: `s3://${storage.bucket}/${key}` };
  }
  if (storage.type === 'oci') {
    const repository = `${storage.registry}/${storage.repository}:${snapshotName}`;
    const registryCredentials = credentials && 'username' in credentials ? credentials : undefined;
    return { options: { type: 'oci', oci: { repository, username: registryCredentials?.username, password: registryCredentials?.password } }, url: `oci://${repository}` };
  }
  if (storage.type === 'azure') {
    // vCluster's AzureOptions: the blob's https URL, and the account key or SAS it signs requests with.
    const url = `${storage.serviceUrl}/${storage.container}/${objectKey(storage.prefix, snapshotName)}`;
    const azureCredentials = credentials && ('accountKey' in credentials || 'sasToken' in credentials) ? credentials : undefined;
    const azure = {
      'blob-url': url,
      'storage-key': azureCredentials && 'accountKey' in azureCredentials ? azureCredentials.accountKey : undefined,
      sas: azureCredentials && 'sasToken' in azureCredentials ? azureCredentials.sasToken : undefined,
    };
    return { options: { type: 'azure', azure }, url };
  }
  const path = `${storage.path.replace(/\/+$/, '')}/${snapshotName}${ARCHIVE_SUFFIX}`;
  return { options: { type: 'container', container: { path } }, url: `container://${path}` };
}

/** The ConfigMap + Secret of one snapshot request, as vCluster's CreateSnapshotRequestResources builds them. */
export function buildRequest(input: {
  policy: Pick<SnapshotPolicy, 'cluster' | 'storage'>;
  snapshotName: string;
  createdAt: Date;
  credentials: StorageCredentials | undefined;
  release?: RequestRelease;
}): RequestObjects {
  const { cluster } = input.policy;
  const { options, url } = storageOptionsFor(input.policy.storage, input.snapshotName, input.credentials);
  const name = requestNameFor(cluster, input.snapshotName, url);
  const release = input.release && {
    releaseName: input.release.releaseName,
    releaseNamespace: input.release.releaseNamespace,
    chartName: input.release.chartName,
    chartVersion: input.release.chartVersion,
    values: Buffer.from(input.release.valuesYaml, 'utf8').toString('base64'),
  };
  const request: SnapshotRequestJson = {
    metadata: { name, creationTimestamp: input.createdAt.toISOString().replace(/\.\d{3}Z$/, 'Z') },
    spec: { url },
    status: { error: {} },
  };
  return {
    name,
    namespace: cluster.namespace,
    labels: {
      [REQUEST_LABEL]: '',
      [VCLUSTER_NAME_LABEL]: cluster.name,
      [VCLUSTER_NAMESPACE_LABEL]: cluster.namespace,
      [SNAPSHOT_NAME_LABEL]: input.snapshotName.toLowerCase().slice(0, 63).replace(/[^a-z0-9]+$/, ''),
    },
    request: { [REQUEST_KEY]: JSON.stringify(request) },
    options: { [OPTIONS_KEY]: JSON.stringify({ ...options, ...(release ? { release } : {}) }) },
    url,
  };
}

const PHASES = new Set<string>(['', 'CreatingEtcdBackup', 'CreatingVolumeSnapshots', 'Completed', 'PartiallyFailed', 'Failed', 'Canceling', 'Canceled', 'Unknown']);

/** The status in a request ConfigMap's data; an unreadable one (written by someone else) reads as Unknown. */
export function requestStatusOf(data: Record<string, string> | undefined): RequestStatus {
  try {
    const parsed = JSON.parse(data?.[REQUEST_KEY] ?? '') as Partial<SnapshotRequestJson>;
    const phase = parsed.status?.phase ?? '';
    const message = parsed.status?.error?.message;
    return { phase: PHASES.has(phase) ? (phase as RequestPhase) : 'Unknown', ...(message ? { error: String(message) } : {}) };
  } catch {
    return { phase: 'Unknown', error: `the request ConfigMap has no readable ${REQUEST_KEY}` };
  }
}

/** Where a request stands, in the product's words: still running, stored, or failed with vCluster's reason. */
export type RequestOutcome = { done: false } | { done: true; ok: true } | { done: true; ok: false; reason: string };

export function outcomeOf(status: RequestStatus): RequestOutcome {
  switch (status.phase) {
    case 'Completed':
    case 'PartiallyFailed': // vCluster stored the archive; only its volume snapshots (0.30–0.35) failed.
      return { done: true, ok: true };
    case 'Failed':
      return { done: true, ok: false, reason: status.error ?? 'vCluster reported the request Failed without a message' };
    case 'Canceled':
      return { done: true, ok: false, reason: 'vCluster cancelled the request (a newer request for the same URL took over)' };
    case 'Unknown':
      return { done: true, ok: false, reason: status.error ?? 'vCluster reported an unknown request phase' };
    default:
      return { done: false };
  }
}

function versionParts(version: string): number[] | undefined {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version.trim());
  return match ? match.slice(1, 4).map(Number) : undefined;
}

/** Why this chart version cannot process requests, or undefined when it can (or the version is unknown). */
export function requestVersionProblem(chartVersion: string | undefined): string | undefined {
  if (!chartVersion) return undefined;
  const have = versionParts(chartVersion);
  const need = versionParts(MIN_REQUEST_VERSION)!;
  if (!have) return undefined;
  for (let i = 0; i < 3; i++) {
    if (have[i] !== need[i]) {
      return have[i] > need[i] ? undefined : `vCluster ${chartVersion} does not process snapshot requests; the request engine needs vCluster ${MIN_REQUEST_VERSION} or newer (upgrade the vCluster, or give the worker its etcd for the direct engine)`;
    }
  }
  return undefined;
}
