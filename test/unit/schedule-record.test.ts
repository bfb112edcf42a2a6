import { strict as assert } from 'node:assert';
import type { ScheduleSummary } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { SEARCH_ATTRIBUTES } from '../../contracts/definitions';
import { createdRecord, listedSchedule, parseAppliedRecord } from '../../lib/schedule-update';

/** A listing entry as the SDK gives it: the record in VcsnapAppliedPolicy and the schedule's pause state. */
const entry = (record: string | undefined, state: ScheduleSummary['state']): ScheduleSummary => ({
  scheduleId: 'vcsnap.team-a.vc-1',
  typedSearchAttributes: new TypedSearchAttributes(record === undefined ? [] : [{ key: SEARCH_ATTRIBUTES.appliedPolicy, value: record }]),
  state,
  info: { recentActions: [], nextActionTimes: [] },
});

describe('the applied-policy record (VcsnapAppliedPolicy)', () => {
  it('reads the digest alone as earlier versions wrote it, and a token only when it is a decimal 64-bit count', () => {
    assert.equal(parseAppliedRecord(undefined), undefined);
    assert.deepEqual(parseAppliedRecord('abc'), { digest: 'abc' });
    assert.deepEqual(parseAppliedRecord('abc/7/0badc0de'), { digest: 'abc', token: 7n, stateTag: '0badc0de' });
    for (const bad of ['abc/x/0badc0de', 'abc/7', 'abc//0badc0de', 'abc/-1/0badc0de', 'abc/99999999999999999999/0badc0de']) {
      assert.equal(parseAppliedRecord(bad)?.token, undefined, bad);
      assert.equal(parseAppliedRecord(bad)?.digest, 'abc', bad);
    }
  });

  it('gives sync the basis of an update without a describe only while the listed pause state is the one recorded', () => {
    const created = createdRecord('d1').value as string;
    const fresh = listedSchedule(entry(created, { paused: false }));
    assert.equal(fresh.appliedPolicy, 'd1');
    assert.equal(fresh.basis?.token, 1n, 'a schedule nobody changed since its creation');
    assert.deepEqual(fresh.basis?.state, { paused: false });
    assert.equal(fresh.basis?.recorded, created);
    // An operator's pause, or a resume with a note, shows in the listing: describe first.
    assert.equal(listedSchedule(entry(created, { paused: true, note: 'maintenance' })).basis, undefined);
    assert.equal(listedSchedule(entry(created, { paused: false, note: 'resumed with vcsnap' })).basis, undefined);
    // Earlier versions' records, or none.
    assert.deepEqual(listedSchedule(entry('d1', { paused: false })), { appliedPolicy: 'd1' });
    assert.deepEqual(listedSchedule(entry(undefined, { paused: false })), { appliedPolicy: undefined });
  });
});
