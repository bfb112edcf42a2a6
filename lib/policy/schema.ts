// The auto-snapshot block, in either form, parsed into the policy fields it owns.
import { z } from 'zod';
import { OBJECT_LOCK_MODES, OVERLAP_POLICIES, type ObjectLockMode, type OverlapPolicyName, type StateSource, type StorageLocation } from '../../contracts/definitions';
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
  objectLock?: ObjectLockMode;
  copy?: StorageLocation;
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

/**
 * `objectLock`: GOVERNANCE or COMPLIANCE (any case), `off`/absent for none. A COMPLIANCE lock cannot be lifted by
 * anyone, the bucket's owner included, until it expires: a tenant may ask for a mode only when the worker allows it
 * (VCSNAP_OBJECT_LOCK_MODES, default GOVERNANCE only).
 */
function objectLockSchema(allowed: ReadonlyArray<ObjectLockMode>) {
  return optionalString().transform((name, ctx): ObjectLockMode | undefined => {
    if (name === undefined || name.toLowerCase() === 'off') return undefined;
    const mode = OBJECT_LOCK_MODES.find((m) => m === name.toUpperCase());
    if (mode === undefined) {
      ctx.addIssue({ code: 'custom', message: `must be GOVERNANCE, COMPLIANCE or off, got "${name.slice(0, 40)}"` });
      return z.NEVER;
    }
    if (!allowed.includes(mode)) {
      const allows = allowed.length > 0 ? `it allows ${allowed.join(', ')}` : 'it allows none';
      ctx.addIssue({ code: 'custom', message: `${mode} is not allowed by this worker (VCSNAP_OBJECT_LOCK_MODES: ${allows})` });
      return z.NEVER;
    }
    return mode;
  });
}

/** The copy location: any backend, but its credentials must come from a Secret (inline ones are the primary's). */
function copySchema(clusterNamespace: string, form: BlockForm) {
  return storageSchema(clusterNamespace, form).superRefine((location, ctx) => {
    const inline = (location.type === 's3' && location.inlineCredentialsInUrl) || (location.type === 'oci' && location.inlineCredential);
    if (inline) ctx.addIssue({ code: 'custom', path: [location.type], message: 'inline credentials are not supported for the copy location: reference a Secret (credential)' });
  });
}

function sameLocation(a: StorageLocation, b: StorageLocation): boolean {
  const where = (l: StorageLocation): string => {
    switch (l.type) {
      case 's3':
        return `s3|${l.endpoint ?? ''}|${l.region ?? ''}|${l.bucket}|${l.prefix}`;
      case 'oci':
        return `oci|${l.registry}|${l.repository}`;
      case 'azure':
        return `azure|${l.serviceUrl}|${l.container}|${l.prefix}`;
      case 'container':
        return `container|${l.path}`;
    }
  };
  return where(a) === where(b);
}

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
    objectLock: objectLockSchema(limits.objectLockModes),
    copy: z.unknown().optional().transform((value, ctx): StorageLocation | undefined => {
      if (value === undefined || value === null) return undefined;
      const parsed = copySchema(clusterNamespace, form).safeParse(value);
      if (parsed.success) return parsed.data;
      for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
      return z.NEVER;
    }),
  })
    .superRefine((block, ctx) => {
      if (block.objectLock && block.storage?.type !== undefined && block.storage.type !== 's3') {
        ctx.addIssue({ code: 'custom', path: ['objectLock'], message: `Object Lock is an S3 feature; storage.type is ${block.storage.type}` });
      }
      if (block.copy && block.storage && sameLocation(block.copy, block.storage)) {
        ctx.addIssue({ code: 'custom', path: ['copy'], message: 'names the same location as storage: a copy must go somewhere else (another bucket, prefix, registry or directory)' });
      }
    })
    .transform(({ catchupWindow, copy, ...block }) => ({ ...block, catchupWindowSeconds: catchupWindow, ...(copy ? { copy } : {}) }));
}
