// Schedule updates that carry Temporal's conflict token, and the record vcsnap keeps with each change it makes, so
// that sync can update a changed schedule from its listing alone.
//
// Why not the SDK's ScheduleHandle.update: it describes the schedule first, which asks the schedule's own workflow
// (on Temporal 1.29 / PostgreSQL, 2,000 schedules: 8-9.5 ms of server and database CPU and about 55 ms of latency per
// describe, against about 12 ms of CPU for the update, half of it after the call returns; sync of 10,000 changed
// clusters took 190 s with the describes, 34 s without), and it sends no conflict token, so an operator's pause made
// between its describe and its update would be overwritten. The request below is the SDK's own
// (ScheduleClient._updateSchedule in @temporalio/client 1.24, with its encoders) plus the token.
//
// Tokens. Temporal's workflow-based scheduler (service/worker/scheduler/workflow.go through 1.29) counts changes: 1
// at creation, one more per update, pause or unpause, sent as 8 big-endian bytes; an update with another token is
// dropped (the call still succeeds). Its CHASM scheduler encodes tokens otherwise and refuses a mismatch with
// FAILED_PRECONDITION. vcsnap writes into VcsnapAppliedPolicy, with each change: the digest of what it applied, the
// token the schedule has once that change is in, and a tag of the pause state it wrote. Sync updates from the listing
// only when the listed pause state still has that tag (an operator's pause or resume changes it) and this process has
// not already sent an update from that same record; otherwise it describes first. A token that does not hold is
// refused by the server, never applied over someone else's change: said at once (CHASM), sync describes and updates
// in the same call; dropped silently (the workflow scheduler), the next sync sees the same record and describes.
import { createHash, randomUUID } from 'node:crypto';
import { ScheduleNotFoundError, isGrpcServiceError, type Client, type ScheduleDescription, type ScheduleSummary, type ScheduleUpdateOptions } from '@temporalio/client';
import {
  compileUpdatedScheduleOptions,
  encodeScheduleAction,
  encodeSchedulePolicies,
  encodeScheduleSpec,
  encodeScheduleState,
} from '@temporalio/client/lib/schedule-helpers';
import type { SearchAttributePair, TypedSearchAttributes } from '@temporalio/common';
import { encodeUnifiedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import type { Headers } from '@temporalio/common/lib/interceptors';
import { SEARCH_ATTRIBUTES, type ClusterRef } from '../contracts/definitions';
import type { PolicyOrigin } from './schedules';

/** gRPC status codes (grpc-js is the SDK's dependency, not this package's). */
const NOT_FOUND = 5;
const FAILED_PRECONDITION = 9;

/** The workflow-based scheduler's token of a schedule nobody has changed since its creation. */
const INITIAL_CONFLICT_TOKEN = 1n;

export interface ScheduleState {
  paused: boolean;
  note?: string;
}

/** What VcsnapAppliedPolicy says: `digest` alone (as earlier versions wrote it), or `digest/token/state tag`. */
export interface AppliedRecord {
  digest: string;
  token?: bigint;
  stateTag?: string;
}

export function parseAppliedRecord(value: string | undefined): AppliedRecord | undefined {
  if (!value) return undefined;
  const [digest = '', token, stateTag] = value.split('/');
  return { digest, ...(token && /^\d{1,19}$/.test(token) && stateTag ? { token: BigInt(token), stateTag } : {}) };
}

/** The pause and note of a listed or described schedule, without a note it does not have. */
function pauseState({ paused, note }: ScheduleState): ScheduleState {
  return { paused, ...(note !== undefined && { note }) };
}

function stateTag(state: ScheduleState): string {
  return createHash('sha256').update(JSON.stringify([state.paused, state.note ?? ''])).digest('hex').slice(0, 8);
}

function recordValue(digest: string, token: bigint, state: ScheduleState): string {
  return `${digest}/${token}/${stateTag(state)}`;
}

/** The workflow-based scheduler's encoding of a token. */
function tokenBytes(token: bigint): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(token);
  return bytes;
}

/** The search attribute a new schedule is created with. */
export function createdRecord(digest: string): SearchAttributePair {
  return { key: SEARCH_ATTRIBUTES.appliedPolicy, value: recordValue(digest, INITIAL_CONFLICT_TOKEN, { paused: false }) };
}

/** What a listing gives an update that skips the describe. */
export interface ListedBasis {
  token: bigint;
  state: ScheduleState;
  searchAttributes: TypedSearchAttributes;
  /** The record as listed: a second update from it means the first was refused. */
  recorded: string;
}

export interface ListedSchedule {
  /** The digest vcsnap last applied (absent on schedules applied by 0.2.0). */
  appliedPolicy?: string;
  basis?: ListedBasis;
}

/** Reads a schedule listing's entry: the applied digest and, when the record still holds, the basis of an update. */
export function listedSchedule(entry: ScheduleSummary): ListedSchedule {
  const recorded = entry.typedSearchAttributes?.get(SEARCH_ATTRIBUTES.appliedPolicy);
  const record = parseAppliedRecord(recorded);
  const state = pauseState(entry.state);
  if (!recorded || record?.token === undefined || record.stateTag !== stateTag(state) || !entry.typedSearchAttributes) return { appliedPolicy: record?.digest };
  return { appliedPolicy: record.digest, basis: { token: record.token, state, searchAttributes: entry.typedSearchAttributes, recorded } };
}

/** What a listing says of any vcsnap schedule, with its record. */
export interface ListedEntry extends ListedSchedule {
  scheduleId: string;
  cluster?: ClusterRef;
  origin?: PolicyOrigin;
  paused: boolean;
  nextFireTime?: Date;
}

/** The schedules whose id starts with `prefix`, sorted by id, with what `more` reads of each besides. */
export async function listWithRecords<T extends object>(client: Client, prefix: string, more: (entry: ScheduleSummary) => T): Promise<Array<ListedEntry & T>> {
  const found: Array<ListedEntry & T> = [];
  for await (const entry of client.schedule.list()) {
    if (!entry.scheduleId.startsWith(prefix)) continue;
    found.push({
      scheduleId: entry.scheduleId,
      cluster: entry.memo?.cluster as ClusterRef | undefined,
      origin: entry.memo?.origin as PolicyOrigin | undefined,
      paused: entry.state.paused,
      nextFireTime: entry.info.nextActionTimes[0],
      ...more(entry),
      ...listedSchedule(entry),
    });
  }
  return found.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
}

/**
 * The record each schedule's last update from a listing was made from (one entry per schedule at most): a listing
 * showing the same record again means the server dropped that update.
 */
const triedRecords = new Map<string, string>();

export type WantedUpdate = Pick<ScheduleUpdateOptions, 'spec' | 'action' | 'policies'>;

/**
 * Updates a schedule from its listing, without describing it. False when the basis was already tried or the server
 * refused its token (the caller describes then); a refusal that the server does not report shows in the next listing.
 */
export async function updateFromListing(client: Client, scheduleId: string, wanted: WantedUpdate, digest: string, basis: ListedBasis): Promise<boolean> {
  if (triedRecords.get(scheduleId) === basis.recorded) return false;
  const next = basis.token + 1n;
  const searchAttributes = basis.searchAttributes.updateCopy([{ key: SEARCH_ATTRIBUTES.appliedPolicy, value: recordValue(digest, next, basis.state) }]);
  try {
    await sendUpdate(client, scheduleId, { ...wanted, state: basis.state, typedSearchAttributes: searchAttributes }, tokenBytes(basis.token), {});
  } catch (err) {
    if (isGrpcServiceError(err) && err.code === FAILED_PRECONDITION) return false;
    throw err;
  }
  triedRecords.set(scheduleId, basis.recorded);
  return true;
}

/**
 * Describes the schedule, then updates it with the description's token; an operator's pause and note are kept.
 * `digest`: what the record says was applied (a cluster's schedule); undefined leaves the search attributes as they are.
 */
export async function updateDescribed(client: Client, scheduleId: string, wanted: WantedUpdate, digest: string | undefined, described?: ScheduleDescription): Promise<void> {
  const previous = described ?? (await client.schedule.getHandle(scheduleId).describe());
  const raw = previous.raw.conflictToken;
  const token = raw && raw.length === 8 ? Buffer.from(raw).readBigUInt64BE() : undefined;
  const state = pauseState(previous.state);
  // A token of another encoding (the CHASM scheduler's) records a wrong prediction, which the server refuses.
  const record = digest !== undefined && { key: SEARCH_ATTRIBUTES.appliedPolicy, value: token === undefined ? digest : recordValue(digest, token + 1n, state) };
  await sendUpdate(
    client,
    scheduleId,
    { ...wanted, state, typedSearchAttributes: record ? previous.typedSearchAttributes.updateCopy([record]) : previous.typedSearchAttributes },
    raw ?? undefined,
    previous.raw.schedule?.action?.startWorkflow?.header?.fields ?? {},
  );
  triedRecords.delete(scheduleId);
}

/** ScheduleClient._updateSchedule's request, with a conflict token. Not found is the SDK's ScheduleNotFoundError. */
async function sendUpdate(client: Client, scheduleId: string, options: ScheduleUpdateOptions, conflictToken: Uint8Array | undefined, headers: Headers): Promise<void> {
  const { namespace, identity, loadedDataConverter } = client.schedule.options;
  const compiled = compileUpdatedScheduleOptions(scheduleId, options);
  try {
    await client.workflowService.updateSchedule({
      namespace,
      scheduleId,
      identity,
      requestId: randomUUID(),
      conflictToken,
      schedule: {
        spec: encodeScheduleSpec(compiled.spec),
        action: await encodeScheduleAction(loadedDataConverter, namespace, compiled.action, headers),
        policies: encodeSchedulePolicies(compiled.policies),
        state: encodeScheduleState(compiled.state),
      },
      searchAttributes: { indexedFields: encodeUnifiedSearchAttributes(undefined, compiled.typedSearchAttributes) },
    });
  } catch (err) {
    if (isGrpcServiceError(err) && err.code === NOT_FOUND) throw new ScheduleNotFoundError(err.details ?? 'schedule not found', scheduleId);
    throw err;
  }
}
