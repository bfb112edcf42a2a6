// drillWorkflow against stub activities: the refusal reasons (each before any restore step), a failing restore or
// check step, a pass; every outcome is recorded once and every non-pass raises one alert.
import { strict as assert } from 'node:assert';
import type { AlertEvent } from '../../contracts/alert';
import { WORKFLOW_TYPES } from '../../contracts/definitions';
import type { DrillChecks, DrillResult } from '../../contracts/drill';
import { failure } from '../../contracts/errors';
import type { VerifyResult } from '../../contracts/restore';
import type { drillWorkflow } from '../../workflows';
import { SNAPSHOT_NAME, StubActivities, testPolicy, useTestEnvironment, workflowId, type StubImpls } from './env';

const SHA = 'ab'.repeat(32);
const CANDIDATE = { snapshotName: SNAPSHOT_NAME, status: 'Completed' as const, finishedAt: '2026-01-02T03:05:00.000Z', sha256: SHA, keys: 10, archivePresent: true };
const SOUND: VerifyResult = { ok: true, snapshotName: SNAPSHOT_NAME, url: 'container:///x', archiveBytes: 100, sha256: SHA, tarBytes: 1024, entries: 11, keys: 10, valueBytes: 50 };
const CHECKS: DrillChecks = {
  keysArchived: 10,
  keysRestored: 10,
  mismatchedKeys: 0,
  mismatchExamples: [],
  revision: 2,
  expectedRevision: 2,
  objects: { ConfigMap: 9, Namespace: 1 },
  undecodable: 0,
  undecodableExamples: [],
  problems: [],
};

function stubs(overrides: StubImpls = {}): StubActivities {
  return new StubActivities({
    findDrillSnapshot: () => CANDIDATE,
    verifyStoredArchive: () => SOUND,
    restoreAndCheck: () => CHECKS,
    recordDrill: () => undefined,
    raiseAlert: () => true,
    ...overrides,
  });
}

describe('drillWorkflow (stub activities)', function () {
  const fast = useTestEnvironment();

  async function run(activities: StubActivities): Promise<DrillResult> {
    return fast().withWorker(activities, (taskQueue) =>
      fast().client.workflow.execute<typeof drillWorkflow>(WORKFLOW_TYPES.drill, { taskQueue, workflowId: workflowId('drill'), args: [{ policy: testPolicy() }] }),
    );
  }

  it('passes: verify, restore and check, record; no alert', async () => {
    const activities = stubs();
    const result = await run(activities);
    assert.equal(result.outcome, 'passed');
    assert.deepEqual(activities.names(), ['findDrillSnapshot', 'verifyStoredArchive', 'restoreAndCheck', 'recordDrill']);
    assert.equal(activities.calls('restoreAndCheck')[0]!.expectedSha256, SHA, 'the archive restored is the one verified');
    const recorded = activities.calls('recordDrill')[0]!;
    assert.equal(recorded.snapshotName, SNAPSHOT_NAME);
    assert.deepEqual(recorded.summary.objects, CHECKS.objects);
  });

  const refusals: Array<{ name: string; overrides: StubImpls; refusal: string; calls: string[] }> = [
    { name: 'no snapshot yet', overrides: { findDrillSnapshot: () => undefined }, refusal: 'no-snapshot', calls: ['findDrillSnapshot'] },
    { name: 'the archive is gone', overrides: { findDrillSnapshot: () => ({ ...CANDIDATE, archivePresent: false }) }, refusal: 'archive-missing', calls: ['findDrillSnapshot'] },
    {
      name: 'the archive went missing while verifying',
      overrides: { verifyStoredArchive: () => Promise.reject(failure('StorageObjectNotFound', 'no such archive')) },
      refusal: 'archive-missing',
      calls: ['findDrillSnapshot', 'verifyStoredArchive'],
    },
    { name: 'a digest mismatch', overrides: { verifyStoredArchive: () => ({ ...SOUND, ok: false, problem: { kind: 'digest', message: 'sha differs' } }) }, refusal: 'digest-mismatch', calls: ['findDrillSnapshot', 'verifyStoredArchive'] },
    { name: 'a corrupt archive', overrides: { verifyStoredArchive: () => ({ ...SOUND, ok: false, problem: { kind: 'gzip', message: 'bad gzip' } }) }, refusal: 'archive-corrupt', calls: ['findDrillSnapshot', 'verifyStoredArchive'] },
    { name: 'other counts than the record', overrides: { verifyStoredArchive: () => ({ ...SOUND, ok: false, problem: { kind: 'record', message: '9 keys' } }) }, refusal: 'record-mismatch', calls: ['findDrillSnapshot', 'verifyStoredArchive'] },
  ];
  for (const c of refusals) {
    it(`refuses ${c.name} (${c.refusal}) before any restore step, records it and raises one alert`, async () => {
      const activities = stubs(c.overrides);
      const result = await run(activities);
      assert.equal(result.outcome, 'refused');
      assert.equal(result.refusal, c.refusal);
      assert.deepEqual(activities.names(), [...c.calls, 'recordDrill', 'raiseAlert']);
      const alert = activities.calls('raiseAlert')[0] as AlertEvent;
      assert.equal(alert.kind, 'DrillFailed');
      assert.match(alert.summary, new RegExp(`refused \\(${c.refusal}\\)`));
    });
  }

  it('fails when the restored etcd does not match, or the restore step itself fails, with the reason', async () => {
    const mismatched = stubs({ restoreAndCheck: () => ({ ...CHECKS, problems: ['3 keys differ'] }) });
    const failed = await run(mismatched);
    assert.equal(failed.outcome, 'failed');
    assert.equal(failed.reason, '3 keys differ');
    assert.equal(mismatched.calls('raiseAlert').length, 1);
    const broken = stubs({ restoreAndCheck: () => Promise.reject(failure('DrillEnvironmentUnavailable', 'restore drills need an etcd')) });
    const brokenResult = await run(broken);
    assert.equal(brokenResult.outcome, 'failed');
    assert.match(brokenResult.reason ?? '', /restore drills need an etcd/);
    assert.deepEqual(broken.names(), ['findDrillSnapshot', 'verifyStoredArchive', 'restoreAndCheck', 'recordDrill', 'raiseAlert']);
  });
});
