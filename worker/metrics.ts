// The product's own Prometheus metrics (the Temporal runtime serves its own on VCSNAP_METRICS_PORT): snapshot outcomes,
// bytes and keys written, duration, last successful snapshot time and retention deletions, per virtual cluster; the
// recovery point age and restore drill outcomes.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { SnapshotMetrics } from '../activities/deps';
import type { ClusterRef, SnapshotRecord } from '../contracts/definitions';
import type { HealthReport, WorkerHealth } from './health';

const CLUSTER_LABELS = ['vcluster', 'vcluster_namespace'] as const;
/** Runs already counted (writeRecord may be retried); bounded so a long-lived worker does not grow. */
const MAX_REMEMBERED_RUNS = 10_000;

export interface ProductMetrics extends SnapshotMetrics {
  registry: Registry;
}

function clusterLabels(cluster: ClusterRef) {
  return { vcluster: cluster.name, vcluster_namespace: cluster.namespace };
}

export function createProductMetrics(registry: Registry = new Registry(), options: { clock?: () => number } = {}): ProductMetrics {
  const registers = [registry];
  const snapshots = new Counter({
    name: 'vcsnap_snapshots_total',
    help: 'Snapshot runs finished, by final status (Completed, PartiallyFailed, Failed).',
    labelNames: [...CLUSTER_LABELS, 'status'],
    registers,
  });
  const bytes = new Counter({ name: 'vcsnap_snapshot_bytes_written_total', help: 'Archive bytes stored.', labelNames: CLUSTER_LABELS, registers });
  const keys = new Counter({ name: 'vcsnap_snapshot_keys_written_total', help: 'etcd keys written into archives.', labelNames: CLUSTER_LABELS, registers });
  const duration = new Histogram({
    name: 'vcsnap_snapshot_duration_seconds',
    help: 'Wall time of a snapshot run, from start to its metadata record.',
    labelNames: [...CLUSTER_LABELS, 'status'],
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200],
    registers,
  });
  const lastSuccess = new Gauge({
    name: 'vcsnap_last_successful_snapshot_timestamp_seconds',
    help: 'When the last snapshot with a stored archive (Completed or PartiallyFailed) finished, in Unix seconds.',
    labelNames: CLUSTER_LABELS,
    registers,
  });
  const deletions = new Counter({
    name: 'vcsnap_retention_deletions_total',
    help: 'Snapshots pruned by retention (result=deleted) or whose pruning failed and is retried by the next run (result=failed).',
    labelNames: [...CLUSTER_LABELS, 'result'],
    registers,
  });
  const dumpsRunning = new Gauge({ name: 'vcsnap_dumps_running', help: 'etcd dumps running on this worker now (at most VCSNAP_MAX_CONCURRENT_DUMPS).', registers });
  const dumpQueueWait = new Histogram({
    name: 'vcsnap_dump_queue_wait_seconds',
    help: 'How long each dump waited in the dump task queue for a free slot on some worker (VCSNAP_MAX_CONCURRENT_DUMPS), observed when it started; long waits mean too few workers.',
    buckets: [1, 10, 60, 300, 900, 1800, 3600],
    registers,
  });
  // Recovery point: when each cluster's newest restorable snapshot finished, as this worker last saw it (its own
  // runs, catalog reads and drills); the age is computed at each scrape, so it grows while no snapshot succeeds.
  const restorableAt = new Map<string, { labels: ReturnType<typeof clusterLabels>; at: number }>();
  const clock = options.clock ?? (() => Date.now());
  new Gauge({
    name: 'vcsnap_recovery_point_age_seconds',
    help: 'Age of the newest restorable snapshot (Completed, archive present), drilled or not, in seconds: the recovery point if the cluster were lost now.',
    labelNames: CLUSTER_LABELS,
    registers,
    collect() {
      this.reset();
      for (const { labels, at } of restorableAt.values()) this.set(labels, Math.max(0, (clock() - at) / 1000));
    },
  });
  const seenRestorable = (cluster: ClusterRef, finishedAt: string) => {
    const at = Date.parse(finishedAt);
    if (!Number.isFinite(at)) return;
    const key = `${cluster.namespace}/${cluster.name}`;
    const known = restorableAt.get(key);
    if (!known || known.at < at) restorableAt.set(key, { labels: clusterLabels(cluster), at });
  };
  const interval = new Gauge({
    name: 'vcsnap_snapshot_interval_seconds',
    help: "The shortest interval of the cluster's snapshot schedule, as its last run saw it: what the recovery point age is measured against.",
    labelNames: CLUSTER_LABELS,
    registers,
  });
  const lastVerified = new Gauge({
    name: 'vcsnap_last_verified_restore_timestamp_seconds',
    help: 'When a restore drill last passed (restored into a scratch etcd and checked), in Unix seconds.',
    labelNames: CLUSTER_LABELS,
    registers,
  });
  const drills = new Counter({
    name: 'vcsnap_drill_total',
    help: 'Restore drills finished, by result: passed, failed (the restore or its checks), refused (missing, damaged or changed archive, or none).',
    labelNames: [...CLUSTER_LABELS, 'result'],
    registers,
  });
  const drillDuration = new Histogram({
    name: 'vcsnap_drill_duration_seconds',
    help: 'Wall time of a restore drill.',
    labelNames: [...CLUSTER_LABELS, 'result'],
    buckets: [5, 15, 30, 60, 120, 300, 600, 1800, 3600],
    registers,
  });
  const counted = new Set<string>();
  const countOnce = (key: string): boolean => {
    if (counted.has(key)) return false;
    counted.add(key);
    if (counted.size > MAX_REMEMBERED_RUNS) counted.delete(counted.values().next().value!);
    return true;
  };

  return {
    registry,
    snapshotFinished(record: SnapshotRecord) {
      if (!countOnce(`${record.workflowId ?? ''}/${record.runId ?? ''}/${record.snapshotName}`)) return;
      const labels = clusterLabels(record.cluster);
      snapshots.inc({ ...labels, status: record.status });
      bytes.inc(labels, record.bytes);
      keys.inc(labels, record.keys);
      const seconds = (Date.parse(record.finishedAt) - Date.parse(record.startedAt)) / 1000;
      if (Number.isFinite(seconds) && seconds >= 0) duration.observe({ ...labels, status: record.status }, seconds);
      if (record.status !== 'Failed') lastSuccess.set(labels, Date.parse(record.finishedAt) / 1000);
      if (record.status === 'Completed') seenRestorable(record.cluster, record.finishedAt);
    },
    restorableSnapshotSeen: seenRestorable,
    scheduleIntervalSeen(cluster, seconds) {
      if (seconds > 0) interval.set(clusterLabels(cluster), seconds);
    },
    drillFinished(cluster, summary, drillId) {
      if (!countOnce(`drill/${drillId}`)) return;
      const labels = clusterLabels(cluster);
      drills.inc({ ...labels, result: summary.outcome });
      drillDuration.observe({ ...labels, result: summary.outcome }, summary.durationSeconds);
      if (summary.outcome === 'passed') lastVerified.set(labels, Date.parse(summary.verifiedAt) / 1000);
    },
    dumpStarted(waitedSeconds) {
      dumpsRunning.inc();
      dumpQueueWait.observe(waitedSeconds);
    },
    dumpEnded() {
      dumpsRunning.dec();
    },
    retentionApplied(cluster, report) {
      const labels = clusterLabels(cluster);
      deletions.inc({ ...labels, result: 'deleted' }, report.deleted.length);
      deletions.inc({ ...labels, result: 'failed' }, report.failed.length);
    },
  };
}

export interface MetricsServer {
  /** The bound port (useful when asked for port 0). */
  port: number;
  close(): Promise<void>;
}

/** Serves the registry in Prometheus text format on `/metrics`, and `health`'s probes on `/livez` and `/readyz`. */
export async function serveMetrics(registry: Registry, port: number, host = '0.0.0.0', health?: WorkerHealth): Promise<MetricsServer> {
  const probe = (res: ServerResponse, report: HealthReport) =>
    res.writeHead(report.ok ? 200 : 503, { 'Content-Type': 'application/json' }).end(`${JSON.stringify(report)}\n`);
  const server: Server = createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (req.method === 'GET' && health && path === '/livez') return probe(res, health.live());
    if (req.method === 'GET' && health && path === '/readyz') {
      health.ready().then(
        (report) => probe(res, report),
        (err: unknown) => probe(res, { ok: false, checks: { error: String(err) } }),
      );
      return;
    }
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404).end(`not found; metrics are at /metrics${health ? ', probes at /livez and /readyz' : ''}\n`);
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(body),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}
