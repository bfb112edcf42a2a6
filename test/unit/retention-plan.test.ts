import { strict as assert } from 'node:assert';
import { isClusterArchive } from '../../lib/catalog';
import { planRetention, type RetentionCandidate } from '../../lib/retention-plan';

const NOW = new Date('2026-11-23T12:00:00Z');
const daysAgo = (days: number) => new Date(NOW.getTime() - days * 86_400_000).toISOString();
const snap = (name: string, days: number, status: RetentionCandidate['status'] = 'Completed'): RetentionCandidate => ({
  snapshotName: name,
  nominalTime: daysAgo(days),
  status,
});

describe('planRetention', () => {
  const cases: Array<{ name: string; records: RetentionCandidate[]; period: number; max: number; expected: string[] }> = [
    { name: 'nothing to keep track of', records: [], period: 30, max: 30, expected: [] },
    { name: 'a single old snapshot is the newest successful one and stays', records: [snap('a', 100)], period: 30, max: 30, expected: [] },
    { name: 'period binds', records: [snap('a', 1), snap('b', 31), snap('c', 45)], period: 30, max: 30, expected: ['b', 'c'] },
    { name: 'count binds', records: [snap('a', 1), snap('b', 2), snap('c', 3), snap('d', 4)], period: 30, max: 2, expected: ['c', 'd'] },
    { name: 'both bind', records: [snap('a', 1), snap('b', 2), snap('c', 3), snap('d', 40)], period: 30, max: 2, expected: ['c', 'd'] },
    {
      name: 'all failed: age out by period and cap separately, nothing protected',
      records: [snap('f1', 1, 'Failed'), snap('f2', 2, 'Failed'), snap('f3', 3, 'Failed'), snap('f4', 50, 'Failed')],
      period: 30,
      max: 2,
      expected: ['f3', 'f4'],
    },
    {
      name: 'failed records do not count against successful ones',
      records: [snap('a', 1), snap('f1', 0.5, 'Failed'), snap('f2', 0.7, 'Failed'), snap('b', 2)],
      period: 30,
      max: 2,
      expected: [],
    },
    {
      name: 'partially failed snapshots count as successful',
      records: [snap('a', 1, 'PartiallyFailed'), snap('b', 2), snap('c', 3)],
      period: 30,
      max: 2,
      expected: ['c'],
    },
    {
      name: 'ties on time are broken by name (newer name kept)',
      records: [snap('demo-b', 1), snap('demo-a', 1), snap('demo-c', 1)],
      period: 30,
      max: 2,
      expected: ['demo-a'],
    },
    {
      name: 'the newest successful survives even when every snapshot is past the period',
      records: [snap('old1', 40), snap('old2', 41), snap('old-failed', 39, 'Failed')],
      period: 30,
      max: 5,
      expected: ['old2', 'old-failed'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = planRetention(c.records, { periodDays: c.period, maxSnapshots: c.max }, NOW);
      assert.deepEqual(plan.map((d) => d.snapshotName).sort(), [...c.expected].sort());
      for (const decision of plan) assert.match(decision.reason, /older than|beyond the newest/);
    });
  }
});

describe('catalog identity (lib/catalog)', () => {
  it("lists an archive only under the cluster whose exact name it carries: demo's catalog has no demo-2 snapshot", () => {
    const demo = { name: 'demo', namespace: 'team-a' };
    assert.equal(isClusterArchive(demo, 'demo-2026-11-23T12-00-00Z'), true);
    assert.equal(isClusterArchive(demo, 'demo-2-2026-11-23T12-00-00Z'), false);
    assert.equal(isClusterArchive({ name: 'demo-2', namespace: 'team-a' }, 'demo-2-2026-11-23T12-00-00Z'), true);
    assert.equal(isClusterArchive(demo, 'demo-backup.tar'), false);
  });
});
