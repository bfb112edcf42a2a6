// The auto-snapshot block, in either form, parsed into the policy fields it owns.
import { z } from 'zod';
import { OVERLAP_POLICIES, type OverlapPolicyName, type StateSource, type StorageLocation } from '../../contracts/definitions';
import { checkSchedule, shortestIntervalSeconds } from './cron';
import { MAX_RETENTION_PERIOD_DAYS, MIN_CATCHUP_WINDOW_SECONDS } from './defaults';
import { mapping, optionalBoolean, optionalDurationSeconds, optionalMapping, optionalPositiveInt, optionalString, typeMessage } from './fields';
import { formatSeconds, type PolicyLimits } from './limits';
import { explicitStateSchema } from './state';
import { storageSchema } from './storage';
import { checkTimezone } from './timezone';

export type BlockForm = 'legacy' | 'current';

/** What the block says; fields it leaves out are undefined and get their defaults later. */
export interface ParsedBlock {
  enabled?: boolean;
  schedule: string;
  timezone?: string;
  retention?: { period?: number; maxSnapshots?: number } | null;
  storage: StorageLocation;
  volumes?: { enabled?: boolean; concurrency?: number } | null;
  overlap?: OverlapPolicyName;
  catchupWindowSeconds?: number;
  etcd?: StateSource | null;
}

const SCHEDULE_REQUIRED = 'required (a 5-field cron expression or a descriptor such as @daily or @every 6h)';

function scheduleSchema(minIntervalSeconds: number) {
  return z
    .string({ error: typeMessage('a string', SCHEDULE_REQUIRED) })
    .refine((text) => text.trim() !== '', { error: SCHEDULE_REQUIRED })
    .transform((text, ctx) => {
      const checked = checkSchedule(text);
      if (!checked.ok) {
        ctx.addIssue({ code: 'custom', message: `invalid cron expression "${text.trim()}" (${checked.reason})` });
        return z.NEVER;
      }
      const interval = shortestIntervalSeconds(checked.schedule);
      if (interval < minIntervalSeconds) {
        const minimum = formatSeconds(minIntervalSeconds);
        const message = `"${checked.schedule}" fires as often as every ${formatSeconds(interval)}; this worker takes at most one snapshot every ${minimum} (VCSNAP_MIN_SCHEDULE_INTERVAL)`;
        ctx.addIssue({ code: 'custom', message });
        return z.NEVER;
      }
      return checked.schedule;
    });
}

const timezoneSchema = optionalString().transform((name, ctx) => {
  if (name === undefined) return undefined;
  const checked = checkTimezone(name);
  if (checked.ok) return checked.timezone;
  ctx.addIssue({ code: 'custom', message: checked.reason });
  return z.NEVER;
});

const overlapSchema = optionalString().transform((name, ctx) => {
  if (name === undefined) return undefined;
  const overlap = OVERLAP_POLICIES.find((policy) => policy === name.toUpperCase().replace(/-/g, '_'));
  if (overlap !== undefined) return overlap;
  ctx.addIssue({ code: 'custom', message: `must be one of ${OVERLAP_POLICIES.join(', ')}, got "${name}"` });
  return z.NEVER;
});

// The current form has no `enabled`: present means on. `enabled: false` there would silently do the opposite.
const currentEnabledSchema = optionalBoolean().refine((enabled) => enabled !== false, {
  error: 'not part of snapshots.auto, where the block being present means on; remove snapshots.auto to turn auto snapshots off',
});

export function blockSchema(form: BlockForm, clusterNamespace: string, limits: PolicyLimits): z.ZodType<ParsedBlock> {
  const concurrencyLimit = " (this worker's maximum, VCSNAP_MAX_VOLUME_CONCURRENCY)";
  return mapping({
    enabled: form === 'legacy' ? optionalBoolean() : currentEnabledSchema,
    schedule: scheduleSchema(limits.minScheduleIntervalSeconds),
    timezone: timezoneSchema,
    retention: optionalMapping({
      period: optionalPositiveInt(MAX_RETENTION_PERIOD_DAYS, ' days'),
      maxSnapshots: optionalPositiveInt(),
    }),
    storage: storageSchema(clusterNamespace, form),
    volumes: optionalMapping({ enabled: optionalBoolean(), concurrency: optionalPositiveInt(limits.maxVolumeConcurrency, concurrencyLimit) }),
    overlap: overlapSchema,
    catchupWindow: optionalDurationSeconds(MIN_CATCHUP_WINDOW_SECONDS, "Temporal's minimum catch-up window"),
    etcd: explicitStateSchema(clusterNamespace).nullish(),
  }).transform(({ catchupWindow, ...block }) => ({ ...block, catchupWindowSeconds: catchupWindow }));
}
