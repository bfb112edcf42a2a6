// Schedule strings that both vCluster (robfig/cron: 5 fields plus descriptors) and Temporal's ScheduleSpec
// `cronExpressions` read the same way. The string is kept as given (whitespace normalized); Temporal parses it.
import { parseGoDuration } from './duration';

export type ScheduleCheck = { ok: true; schedule: string } | { ok: false; reason: string };

const DESCRIPTORS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'] as const;

const FIVE_FIELDS = '5 fields: minute hour day-of-month month day-of-week';

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  /** Three-letter names, index = value - min (day-of-week: SUN = 0). */
  names?: ReadonlyArray<string>;
}

const FIELDS: ReadonlyArray<FieldSpec> = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] },
  { name: 'day-of-week', min: 0, max: 7, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
];

// Longest day of each month, February counted as 29 so leap days are schedulable.
const MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Validates a schedule and returns it with whitespace runs collapsed, or the reason it is invalid. */
export function checkSchedule(input: string): ScheduleCheck {
  const schedule = input.trim().split(/\s+/).join(' ');
  if (schedule === '') return { ok: false, reason: 'empty' };
  if (/^(CRON_)?TZ=/.test(schedule)) {
    return { ok: false, reason: 'a TZ= or CRON_TZ= prefix is not supported; set the timezone field instead' };
  }
  const reason = schedule.startsWith('@') ? checkDescriptor(schedule) : checkFields(schedule.split(' '));
  return reason === undefined ? { ok: true, schedule } : { ok: false, reason };
}

function checkDescriptor(schedule: string): string | undefined {
  if (schedule === '@every' || schedule.startsWith('@every ')) return checkEvery(schedule.slice('@every'.length).trim());
  if ((DESCRIPTORS as ReadonlyArray<string>).includes(schedule)) return undefined;
  const descriptor = schedule.split(' ')[0];
  return `unknown descriptor "${descriptor}"; use ${DESCRIPTORS.join(', ')} or @every <duration>`;
}

function checkEvery(duration: string): string | undefined {
  if (duration.includes('/')) return 'an @every phase offset ("/...") is not supported';
  const milliseconds = duration === '' || duration.includes(' ') ? undefined : parseGoDuration(duration);
  if (milliseconds === undefined) {
    return `@every needs a Go duration such as 6h, 90m or 1h30m, got "${duration}"`;
  }
  if (milliseconds < 1000) return '@every duration must be at least 1s';
  return undefined;
}

function checkFields(fields: ReadonlyArray<string>): string | undefined {
  const parsed = parseFields(fields);
  return typeof parsed === 'string' ? parsed : undefined;
}

/** The five fields' value sets, or why they are invalid. */
function parseFields(fields: ReadonlyArray<string>): Array<Set<number>> | string {
  if (fields.length !== 5) {
    const hint = fields.length === 6 ? ': a seconds field is not supported' : '';
    return `expected ${FIVE_FIELDS}; got ${fields.length}${hint}`;
  }
  const reasons: string[] = [];
  const values: Array<Set<number>> = [];
  fields.forEach((field, index) => {
    const parsed = parseField(field, FIELDS[index]);
    if (typeof parsed === 'string') reasons.push(`${FIELDS[index].name}: ${parsed}`);
    else values.push(parsed);
  });
  if (reasons.length > 0) return reasons.join('; ');
  if (!fields[2].startsWith('*') && !fields[4].startsWith('*')) {
    return 'day-of-month and day-of-week are both restricted (cron runs when either matches, Temporal only when both match); set one of them to *';
  }
  const [, , days, months] = values;
  const fires = [...months].some((month) => [...days].some((day) => day <= MONTH_DAYS[month - 1]));
  if (!fires) return 'never fires: none of the selected months has the selected day of month';
  return values;
}

// The descriptors as the 5-field expressions robfig/cron defines them.
const DESCRIPTOR_FIELDS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const MINUTES_PER_DAY = 24 * 60;

/** Schedules measured so far: a fleet has few distinct crons, and sync measures each cluster's on every pass. */
const intervals = new Map<string, number>();

/**
 * The shortest time between two fires of a schedule that checkSchedule accepted, in seconds (wall-clock time, so a
 * daylight-saving shift is not counted). `@every 30s` -> 30, `* * * * *` -> 60, `0 9,17 * * MON-FRI` -> 8 hours.
 */
export function shortestIntervalSeconds(schedule: string): number {
  let seconds = intervals.get(schedule);
  if (seconds === undefined) {
    seconds = measureShortestInterval(schedule);
    if (intervals.size >= 1024) intervals.clear();
    intervals.set(schedule, seconds);
  }
  return seconds;
}

function measureShortestInterval(schedule: string): number {
  if (schedule.startsWith('@every ')) return (parseGoDuration(schedule.slice('@every '.length)) ?? 0) / 1000;
  const values = parseFields((DESCRIPTOR_FIELDS[schedule] ?? schedule).split(' '));
  if (typeof values === 'string') return 0;
  const [minuteSet, hourSet, days, months, weekdays] = values;
  const minutes = [...minuteSet].sort((a, b) => a - b);
  const hours = [...hourSet].sort((a, b) => a - b);
  // Every fire time of a day, in minutes since midnight, in order; then the gaps inside a day and across days.
  const times = hours.flatMap((hour) => minutes.map((minute) => hour * 60 + minute));
  let shortest = (shortestDayGap(days, months, weekdays) - 1) * MINUTES_PER_DAY + (MINUTES_PER_DAY - times[times.length - 1] + times[0]);
  for (let index = 1; index < times.length; index += 1) shortest = Math.min(shortest, times[index] - times[index - 1]);
  return shortest * 60;
}

const THIRTY_DAY_MONTHS = new Set([4, 6, 9, 11]);
const daysInMonth = (year: number, month: number): number =>
  month === 2 ? (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28) : THIRTY_DAY_MONTHS.has(month) ? 30 : 31;

/**
 * Fewest days between two firing days. The day-of-week calendar repeats every 28 years (between century years), so
 * walking 28 years from 2001 sees every pairing of month, day of month and weekday. The walk counts the date itself
 * (a Date per day made a yearly schedule cost a millisecond, most of sync's own CPU at 10,000 clusters).
 */
function shortestDayGap(days: Set<number>, months: Set<number>, weekdays: Set<number>): number {
  let previous: number | undefined;
  let shortest = Number.POSITIVE_INFINITY;
  // 2001-01-01 was a Monday (weekday 1; cron's and getUTCDay's Sunday is 0).
  let [year, month, date, weekday] = [2001, 1, 1, 1];
  for (let day = 0; day < 28 * 366 && shortest > 1; day += 1) {
    if (months.has(month) && days.has(date) && weekdays.has(weekday)) {
      if (previous !== undefined) shortest = Math.min(shortest, day - previous);
      previous = day;
    }
    weekday = (weekday + 1) % 7;
    if (++date > daysInMonth(year, month)) {
      date = 1;
      if (++month > 12) [month, year] = [1, year + 1];
    }
  }
  // A schedule firing on one day only in 28 years (29 February on a Monday, say) is as good as never.
  return Number.isFinite(shortest) ? shortest : 28 * 366;
}

function parseField(field: string, spec: FieldSpec): Set<number> | string {
  const values = new Set<number>();
  for (const part of field.split(',')) {
    const reason = addPart(part, spec, values);
    if (reason !== undefined) return reason;
  }
  return values;
}

function addPart(part: string, spec: FieldSpec, values: Set<number>): string | undefined {
  const pieces = part.split('/');
  if (pieces.length > 2) return `invalid step in "${part}"`;
  const [range, stepText] = pieces;
  let step = 1;
  if (stepText !== undefined) {
    if (!/^\d+$/.test(stepText) || Number(stepText) < 1) return `step must be a positive integer in "${part}"`;
    step = Number(stepText);
  }
  let start = spec.min;
  let end = spec.max;
  if (range !== '*') {
    const bounds = range.split('-');
    if (bounds.length > 2 || bounds.includes('')) return `invalid range "${range}"`;
    const parsed = bounds.map((bound) => parseValue(bound, spec));
    const failure = parsed.find((value): value is string => typeof value === 'string');
    if (failure !== undefined) return failure;
    const [first, last] = parsed as number[];
    if (last !== undefined && last < first) return `range "${range}" ends before it starts`;
    start = first;
    end = last ?? (stepText === undefined ? first : spec.max);
  }
  // Day-of-week 7 is Sunday, as in Temporal and most crons.
  for (let value = start; value <= end; value += step) values.add(spec.name === 'day-of-week' ? value % 7 : value);
  return undefined;
}

function parseValue(token: string, spec: FieldSpec): number | string {
  if (/^\d+$/.test(token)) {
    const value = Number(token);
    return value < spec.min || value > spec.max ? `${value} is out of range ${spec.min}-${spec.max}` : value;
  }
  const nameIndex = spec.names?.indexOf(token.toLowerCase()) ?? -1;
  if (nameIndex >= 0) return nameIndex + spec.min;
  return unsupported(token) ?? `invalid value "${token}"`;
}

function unsupported(token: string): string | undefined {
  if (token === '?') return '"?" is not supported; use "*"';
  const feature = unsupportedFeature(token);
  if (feature === undefined) return undefined;
  return feature.startsWith(`"${token}"`) ? `${feature} is not supported` : `"${token}": ${feature} is not supported`;
}

function unsupportedFeature(token: string): string | undefined {
  if (token.includes('#')) return '"#" (nth weekday)';
  if (/^\d*L$/i.test(token) || /^LW$/i.test(token)) return '"L" (last day)';
  if (/^\d+W$/i.test(token)) return '"W" (nearest weekday)';
  if (/^H(\(.*\))?$/i.test(token)) return '"H" (hashed value)';
  return undefined;
}
