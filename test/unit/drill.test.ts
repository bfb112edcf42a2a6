// Restore drills without servers: value decoding per kind, the recovery point rules behind `vcsnap status`, the
// alert webhook's payload, the drill-interval annotation, and the recovery-point gauge growing with the clock.
import { strict as assert } from 'node:assert';
import type { V1Secret } from '@kubernetes/client-node';
import type { AlertEvent } from '../../contracts/alert';
import { decodeValue, ObjectCounter } from '../../lib/drill/objects';
import { clusterFromSecret } from '../../lib/kube/discovery';
import { webhookPayload } from '../../lib/notify/webhook';
import { POLICY_LIMITS } from '../../lib/policy';
import { formatAge, recoveryPoint, scheduleIntervalSeconds } from '../../lib/recovery-point';
import { createProductMetrics } from '../../worker/metrics';
import { drillDetails } from '../../workflows/drill-details';

/** A length-delimited protobuf field. */
function field(number: number, bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from([(number << 3) | 2, bytes.length]), bytes]);
}

function envelope(apiVersion: string, kind: string, raw = Buffer.from('raw')): Buffer {
  const typeMeta = Buffer.concat([field(1, Buffer.from(apiVersion)), field(2, Buffer.from(kind))]);
  return Buffer.concat([Buffer.from('k8s\0'), field(1, typeMeta), field(2, raw)]);
}

describe('drill: decoding restored values', () => {
  const cases: Array<{ key: string; value: Buffer; expected: ReturnType<typeof decodeValue> }> = [
    { key: '/registry/configmaps/a/b', value: envelope('v1', 'ConfigMap'), expected: { kind: 'object', key: 'ConfigMap' } },
    { key: '/registry/deployments/a/b', value: envelope('apps/v1', 'Deployment'), expected: { kind: 'object', key: 'Deployment.apps' } },
    { key: '/registry/snapshot.storage.k8s.io/volumesnapshotclasses/x', value: Buffer.from('{"apiVersion":"snapshot.storage.k8s.io/v1","kind":"VolumeSnapshotClass"}'), expected: { kind: 'object', key: 'VolumeSnapshotClass.snapshot.storage.k8s.io' } },
    { key: '/registry/secrets/a/b', value: Buffer.from('k8s:enc:aescbc:v1:key1:....'), expected: { kind: 'encrypted' } },
    { key: 'compact_rev_key', value: Buffer.from('12345'), expected: { kind: 'other' } },
    { key: '/registry/configmaps/a/c', value: Buffer.from('{"kind":"ConfigMap"'), expected: { kind: 'undecodable', reason: 'not valid JSON' } },
    { key: '/registry/configmaps/a/d', value: Buffer.from('{"data":{}}'), expected: { kind: 'undecodable', reason: 'JSON without apiVersion and kind' } },
    { key: '/registry/configmaps/a/e', value: Buffer.concat([Buffer.from('k8s\0'), Buffer.from([0x0a, 0x7f, 0x01])]), expected: { kind: 'undecodable', reason: 'not a valid Kubernetes protobuf envelope' } },
    { key: '/registry/configmaps/a/f', value: Buffer.from([0xff, 0x00, 0x13]), expected: { kind: 'undecodable', reason: 'neither JSON nor a Kubernetes protobuf envelope' } },
  ];
  for (const c of cases) {
    it(`${c.key} (${c.value.subarray(0, 12).toString('latin1').replace(/[^\x20-\x7e]/g, '.')}) -> ${JSON.stringify(c.expected)}`, () => {
      assert.deepEqual(decodeValue(c.key, c.value), c.expected);
    });
  }

  it('counts objects per kind, sorted, and names the first undecodable keys', () => {
    const counter = new ObjectCounter();
    for (const c of cases) counter.add(c.key, c.value);
    counter.add('/registry/configmaps/a/z', envelope('v1', 'ConfigMap'));
    assert.deepEqual(counter.sorted(), { ConfigMap: 2, 'Deployment.apps': 1, 'VolumeSnapshotClass.snapshot.storage.k8s.io': 1 });
    assert.equal(counter.undecodable, 4);
    assert.equal(counter.encrypted, 1);
    assert.equal(counter.other, 1);
    assert.match(counter.undecodableExamples[0]!, /^\/registry\/configmaps\/a\/c: not valid JSON$/);
  });
});

describe('drill: recovery point', () => {
  const now = new Date('2026-11-28T12:00:00Z');
  const hour = 3600;
  const entries = [
    { snapshotName: 'vc-4', status: 'Failed', finishedAt: '2026-11-28T11:00:00Z' },
    { snapshotName: 'vc-3', status: 'NotFound', finishedAt: '2026-11-28T10:00:00Z' },
    { snapshotName: 'vc-2', status: 'PartiallyFailed', finishedAt: '2026-11-28T09:00:00Z' },
    { snapshotName: 'vc-1', status: 'Completed', finishedAt: '2026-11-28T08:00:00Z', drill: { verifiedAt: '2026-11-28T08:30:00Z', outcome: 'passed' as const } },
    { snapshotName: 'vc-0', status: 'Completed', finishedAt: '2026-11-28T07:00:00Z', drill: { verifiedAt: '2026-11-28T09:30:00Z', outcome: 'refused' as const, refusal: 'digest-mismatch' as const } },
  ];

  it('ages the newest Completed snapshot with its archive (NotFound and Failed do not count), and names the last drill', () => {
    const point = recoveryPoint(entries, hour, now);
    assert.deepEqual(point.restorable, { snapshotName: 'vc-1', finishedAt: '2026-11-28T08:00:00Z' });
    assert.deepEqual(point.lastSuccess, { snapshotName: 'vc-2', finishedAt: '2026-11-28T09:00:00Z' });
    assert.equal(point.ageSeconds, 4 * hour);
    assert.equal(point.lastDrill?.snapshotName, 'vc-0');
    assert.equal(point.lastDrill?.outcome, 'refused');
    assert.deepEqual(point.lastVerified, { snapshotName: 'vc-1', verifiedAt: '2026-11-28T08:30:00Z' });
    assert.equal(point.overdue, true, '4h against an hourly schedule');
  });

  const table: Array<{ interval: number | undefined; overdue: boolean }> = [
    { interval: 2 * hour, overdue: false },
    { interval: 1.99 * hour, overdue: true },
    { interval: undefined, overdue: false },
  ];
  for (const row of table) {
    it(`a 4h old recovery point with interval ${row.interval ?? 'unknown'} is ${row.overdue ? '' : 'not '}overdue`, () => {
      assert.equal(recoveryPoint(entries, row.interval, now).overdue, row.overdue);
    });
  }

  it('a cluster without a restorable snapshot is overdue', () => {
    assert.equal(recoveryPoint(entries.slice(0, 3).map((e) => ({ ...e, status: e.status === 'PartiallyFailed' ? 'Failed' : e.status })), hour, now).overdue, true);
  });

  it('takes the longest gap of the upcoming fires (a weekday schedule has a weekend), else the cron minimum', () => {
    const fires = ['2026-11-26T09:00:00Z', '2026-11-27T09:00:00Z', '2026-11-30T09:00:00Z'].map((t) => new Date(t));
    assert.equal(scheduleIntervalSeconds(fires, 86_400), 3 * 86_400);
    assert.equal(scheduleIntervalSeconds([], 3600), 3600);
    assert.equal(scheduleIntervalSeconds([]), undefined);
    assert.deepEqual([formatAge(59), formatAge(90), formatAge(3 * 3600 + 60), formatAge(93_784)], ['59s', '1m30s', '3h1m', '1d2h3m']);
  });
});

describe('drill: alert webhook payload', () => {
  const event: AlertEvent = {
    key: 'drill.team-a.demo.run-1',
    kind: 'DrillFailed',
    cluster: { name: 'demo', namespace: 'team-a' },
    snapshotName: 'demo-2026-11-28T06-00-00Z',
    summary: 'Restore drill of team-a/demo refused (digest-mismatch)',
    description: 'the sha256 differs',
    at: '2026-11-28T06:10:00Z',
  };

  it('is an Alertmanager webhook (version 4) with a Slack text', () => {
    const payload = webhookPayload(event, 'alertmanager') as { version: string; groupKey: string; status: string; alerts: Array<{ labels: Record<string, string>; fingerprint: string; startsAt: string }>; text: string };
    assert.equal(payload.version, '4');
    assert.equal(payload.groupKey, event.key);
    assert.equal(payload.status, 'firing');
    assert.deepEqual(payload.alerts[0]!.labels, { alertname: 'VcsnapDrillFailed', severity: 'critical', vcluster: 'demo', vcluster_namespace: 'team-a', snapshot: event.snapshotName });
    assert.equal(payload.alerts[0]!.startsAt, event.at);
    assert.match(payload.alerts[0]!.fingerprint, /^[0-9a-f]{16}$/);
    assert.equal(payload.text, '[critical] Restore drill of team-a/demo refused (digest-mismatch)\nthe sha256 differs');
  });

  it('is the text alone for format slack', () => {
    assert.deepEqual(webhookPayload(event, 'slack'), { text: '[critical] Restore drill of team-a/demo refused (digest-mismatch)\nthe sha256 differs' });
  });
});

describe('drill: the vcsnap.io/drill-interval annotation', () => {
  const GOOD = 'snapshots:\n  auto:\n    schedule: "@hourly"\n    storage:\n      type: container\n      container:\n        path: /snapshots\n';
  const secret = (annotation?: string): V1Secret => ({
    metadata: { name: 'vc-config-demo', namespace: 'team-a', annotations: annotation === undefined ? {} : { 'vcsnap.io/drill-interval': annotation } },
    data: { 'config.yaml': Buffer.from(GOOD).toString('base64') },
  });
  const cases: Array<{ annotation?: string; expected: number | null | undefined | RegExp }> = [
    { annotation: undefined, expected: undefined },
    { annotation: '24h', expected: 86_400 },
    { annotation: 'off', expected: null },
    { annotation: '10s', expected: /not a duration of at least 60s/ },
    { annotation: 'weekly', expected: /not a duration/ },
  ];
  for (const c of cases) {
    it(`${c.annotation ?? '(absent)'} -> ${String(c.expected)}`, () => {
      const found = clusterFromSecret(secret(c.annotation), 'auto', POLICY_LIMITS);
      if (c.expected instanceof RegExp) {
        assert.equal(found.policy, null);
        assert.match(found.error ?? '', c.expected);
      } else {
        assert.ok(found.policy);
        assert.equal(found.drillIntervalSeconds, c.expected);
      }
    });
  }
});

describe('drill: recovery point gauge', () => {
  it('grows with the clock until a newer restorable snapshot resets it; drills count once per run', async () => {
    let now = Date.parse('2026-11-28T12:00:00Z');
    const metrics = createProductMetrics(undefined, { clock: () => now });
    const cluster = { name: 'demo', namespace: 'team-a' };
    const age = async () => (await metrics.registry.getSingleMetric('vcsnap_recovery_point_age_seconds')!.get()).values[0]?.value;
    metrics.restorableSnapshotSeen!(cluster, '2026-11-28T11:00:00Z');
    assert.equal(await age(), 3600);
    now += 1800_000;
    assert.equal(await age(), 5400);
    metrics.restorableSnapshotSeen!(cluster, '2026-11-28T10:00:00Z');
    assert.equal(await age(), 5400, 'an older snapshot seen later does not reset it');
    metrics.restorableSnapshotSeen!(cluster, '2026-11-28T12:29:00Z');
    assert.equal(await age(), 60);
    const summary = { verifiedAt: '2026-11-28T12:30:00Z', outcome: 'passed' as const, durationSeconds: 12 };
    metrics.drillFinished!(cluster, summary, 'wf/run');
    metrics.drillFinished!(cluster, summary, 'wf/run');
    const drills = (await metrics.registry.getSingleMetric('vcsnap_drill_total')!.get()).values;
    assert.deepEqual(drills.map((v) => [v.labels.result, v.value]), [['passed', 1]]);
  });
});

describe('drill: details in the Web UI', () => {
  const cluster = { namespace: 'team-a', name: 'demo' };
  it('a passed drill: outcome, snapshot and its run, time, duration, keys, and a table of objects per resource', () => {
    const text = drillDetails({
      cluster,
      outcome: 'passed',
      verifiedAt: '2026-11-28T06:10:12.000Z',
      durationSeconds: 5.2,
      snapshotName: 'demo-2026-11-28T06-00-00Z',
      keys: 12,
      objects: { ConfigMap: 10, Namespace: 2 },
      apiServerChecked: true,
      snapshotRun: { workflowId: 'vcsnap.team-a.demo-2026-11-28T06:00:00Z', runId: 'r1' },
    });
    assert.equal(
      text,
      [
        '**passed** — restore drill of team-a/demo  ',
        'snapshot: `demo-2026-11-28T06-00-00Z`  ',
        'snapshot run: `vcsnap.team-a.demo-2026-11-28T06:00:00Z` / `r1`  ',
        'verifiedAt: 2026-11-28T06:10:12.000Z  ',
        'duration: 5.2s  ',
        'keys: 12 restored and checked, listed through a kube-apiserver',
        '',
        '| resource | objects |',
        '|---|---|',
        '| ConfigMap | 10 |',
        '| Namespace | 2 |',
      ].join('\n'),
    );
  });

  it('a refused drill: the refusal and its reason, no table', () => {
    const text = drillDetails({ cluster, outcome: 'refused', refusal: 'digest-mismatch', reason: 'the sha256 differs', verifiedAt: '2026-11-28T06:10:12.000Z', durationSeconds: 0.4, snapshotName: 'demo-x' });
    assert.match(text, /^\*\*refused\*\* \(digest-mismatch\) — restore drill of team-a\/demo {2}\n/);
    assert.match(text, /reason: the sha256 differs$/);
    assert.doesNotMatch(text, /\| resource/);
  });
});
