// Overdue recovery point notifications: the pure episode rules (lib/recovery-point overdueTransitions) and the
// resolved shape of the webhook payload.
import { strict as assert } from 'node:assert';
import type { AlertEvent, OverdueEpisode } from '../../contracts/alert';
import { webhookPayload } from '../../lib/notify/webhook';
import { overdueTransitions, recoveryPoint, type CheckedCluster } from '../../lib/recovery-point';
import { loadRuntimeConfig } from '../../lib/runtime-config';

const cluster = { namespace: 'team-a', name: 'demo' };
const HOUR = 3600;
const now = new Date('2026-11-28T12:00:00Z');
const longAgo = new Date('2026-01-01T00:00:00Z');
const hoursAgo = (h: number) => new Date(now.getTime() - h * HOUR * 1000).toISOString();

function checked(finishedHoursAgo: number | undefined, extra: Partial<CheckedCluster> = {}): CheckedCluster {
  const entries = finishedHoursAgo === undefined ? [] : [{ snapshotName: `demo-${finishedHoursAgo}h`, status: 'Completed', finishedAt: hoursAgo(finishedHoursAgo) }];
  return { cluster, point: recoveryPoint(entries, HOUR, now), scheduledSince: longAgo, ...extra };
}

describe('overdue recovery point: episodes', () => {
  it('opens one episode, named by the newest restorable snapshot, when a cluster falls 2 intervals behind', () => {
    const t = overdueTransitions([], [checked(3)], now);
    assert.deepEqual(t.firing, [{ cluster, episode: 'demo-3h', key: 'rpo.team-a.demo.demo-3h', since: now.toISOString() }]);
    assert.deepEqual(t.open, t.firing);
    assert.deepEqual(t.resolved, []);
  });

  it('does not fire again while the same episode lasts', () => {
    const open: OverdueEpisode[] = [{ cluster, episode: 'demo-3h', key: 'rpo.team-a.demo.demo-3h', since: hoursAgo(1) }];
    const t = overdueTransitions(open, [checked(3)], now);
    assert.deepEqual(t.firing, []);
    assert.deepEqual(t.open, open);
  });

  it('resolves the open episode once a newer snapshot brings the cluster back within its interval', () => {
    const open: OverdueEpisode[] = [{ cluster, episode: 'demo-3h', key: 'rpo.team-a.demo.demo-3h', since: hoursAgo(1) }];
    const t = overdueTransitions(open, [checked(0.1)], now);
    assert.deepEqual(t.resolved, [{ episode: open[0], restorable: 'demo-0.1h' }]);
    assert.deepEqual(t.open, []);
    assert.deepEqual(t.firing, []);
  });

  it('is quiet within the margin, and for a new cluster that has not yet had time for a snapshot', () => {
    assert.deepEqual(overdueTransitions([], [checked(1.5)], now), { firing: [], resolved: [], open: [] });
    assert.deepEqual(overdueTransitions([], [checked(undefined, { scheduledSince: new Date(now.getTime() - 30 * 60 * 1000) })], now), { firing: [], resolved: [], open: [] });
    assert.equal(overdueTransitions([], [checked(undefined)], now).firing[0]?.key, 'rpo.team-a.demo.none');
  });

  it('keeps the episode of a cluster whose catalog could not be read, and drops that of a cluster no longer scheduled', () => {
    const open: OverdueEpisode[] = [{ cluster, episode: 'demo-3h', key: 'rpo.team-a.demo.demo-3h', since: hoursAgo(1) }];
    assert.deepEqual(overdueTransitions(open, [{ cluster, point: { overdue: false }, scheduledSince: longAgo, error: 'storage down' }], now).open, open);
    assert.deepEqual(overdueTransitions(open, [], now), { firing: [], resolved: [], open: [] });
  });
});

describe('overdue recovery point: the resolved notification', () => {
  const firing: AlertEvent = { key: 'rpo.team-a.demo.demo-3h', kind: 'RecoveryPointOverdue', cluster, snapshotName: 'demo-3h', summary: 'Recovery point of team-a/demo is overdue', at: hoursAgo(1) };
  const resolved: AlertEvent = { ...firing, key: `${firing.key}.resolved`, summary: 'Recovery point of team-a/demo is back within its interval', at: now.toISOString(), resolves: { key: firing.key, since: firing.at } };
  type Payload = { status: string; groupKey: string; alerts: Array<{ status: string; fingerprint: string; startsAt: string; endsAt: string; labels: Record<string, string> }>; text: string };

  it('is Alertmanager status resolved with the firing alert’s group key, fingerprint, labels and start', () => {
    const [a, b] = [webhookPayload(firing, 'alertmanager') as Payload, webhookPayload(resolved, 'alertmanager') as Payload];
    assert.equal(a.status, 'firing');
    assert.equal(a.alerts[0]!.endsAt, '0001-01-01T00:00:00Z');
    assert.equal(b.status, 'resolved');
    assert.equal(b.alerts[0]!.status, 'resolved');
    assert.equal(b.groupKey, a.groupKey);
    assert.equal(b.alerts[0]!.fingerprint, a.alerts[0]!.fingerprint);
    assert.deepEqual(b.alerts[0]!.labels, a.alerts[0]!.labels);
    assert.equal(b.alerts[0]!.startsAt, firing.at);
    assert.equal(b.alerts[0]!.endsAt, resolved.at);
    assert.equal(b.text, '[resolved] Recovery point of team-a/demo is back within its interval');
  });
});

describe('overdue recovery point: VCSNAP_RECOVERY_POINT_CHECK', () => {
  it('defaults to every 5 minutes, takes a Go duration, and `off` turns the check off', () => {
    assert.equal(loadRuntimeConfig({}).recoveryPointCheckSeconds, 300);
    assert.equal(loadRuntimeConfig({ VCSNAP_RECOVERY_POINT_CHECK: '1m' }).recoveryPointCheckSeconds, 60);
    assert.equal(loadRuntimeConfig({ VCSNAP_RECOVERY_POINT_CHECK: 'off' }).recoveryPointCheckSeconds, undefined);
    assert.throws(() => loadRuntimeConfig({ VCSNAP_RECOVERY_POINT_CHECK: 'often' }), /VCSNAP_RECOVERY_POINT_CHECK: expected a duration/);
  });
});
