// zod primitives whose messages are the product's: "required", "expected a string, got a number", ...
// Type messages never echo the value, so a misplaced password cannot leak into an error.
import { z } from 'zod';
import { parseGoDuration } from './duration';
import { describeType, hasSettings, isRecord, showValue } from './values';

interface RawIssue {
  input?: unknown;
}

export function typeMessage(expected: string, whenMissing = 'required'): (issue: RawIssue) => string {
  return (issue) => (issue.input === undefined || issue.input === null ? whenMissing : `expected ${expected}, got ${describeType(issue.input)}`);
}

export function requiredString(whenMissing = 'required'): z.ZodType<string> {
  return z
    .string({ error: typeMessage('a string', whenMissing) })
    .refine((text) => text.trim() !== '', { error: whenMissing });
}

/** An optional string; null and '' count as absent (Go's zero value), so they come out as undefined. */
export function optionalString(): z.ZodType<string | undefined> {
  return z
    .string({ error: typeMessage('a string') })
    .nullish()
    .transform((text) => (text === null || text === undefined || text.trim() === '' ? undefined : text.trim()));
}

export function optionalBoolean(): z.ZodType<boolean | undefined> {
  return z
    .boolean({ error: typeMessage('true or false') })
    .nullish()
    .transform((flag) => flag ?? undefined);
}

export function optionalPositiveInt(max = Number.MAX_SAFE_INTEGER, unit = ''): z.ZodType<number | undefined> {
  const message = (issue: RawIssue): string => `must be an integer greater than 0, got ${showValue(issue.input)}`;
  return z
    .number({ error: message })
    .refine((value) => Number.isInteger(value) && value > 0, { error: message })
    .refine((value) => value <= max, { error: `must be at most ${max}${unit}` })
    .nullish()
    .transform((value) => value ?? undefined);
}

/** A Go duration string such as "1h" (vCluster's Duration type), as whole seconds. */
export function optionalDurationSeconds(minSeconds: number, minReason: string): z.ZodType<number | undefined> {
  return z
    .string({ error: typeMessage('a duration string such as "1h"') })
    .nullish()
    .transform((text, ctx) => {
      if (text === null || text === undefined || text.trim() === '') return undefined;
      const milliseconds = parseGoDuration(text.trim());
      if (milliseconds === undefined) {
        ctx.addIssue({ code: 'custom', message: `invalid duration "${text}" (use Go syntax such as 10m, 1h or 1h30m)` });
        return z.NEVER;
      }
      if (milliseconds < minSeconds * 1000) {
        ctx.addIssue({ code: 'custom', message: `must be at least ${minSeconds}s (${minReason})` });
        return z.NEVER;
      }
      if (milliseconds % 1000 !== 0) {
        ctx.addIssue({ code: 'custom', message: `must be a whole number of seconds, got "${text}"` });
        return z.NEVER;
      }
      return milliseconds / 1000;
    });
}

/**
 * A mapping that takes only the keys of `shape`: any other key is an issue at its own path. `unsupported` names keys
 * vCluster's schema has but this product does not do, each with the reason; they are refused only when set (full Helm
 * values carry empty defaults). Every key is checked even when a field's own value is invalid.
 */
export function mapping<T extends z.ZodRawShape>(shape: T, unsupported: Readonly<Record<string, string>> = {}) {
  const known = [...Object.keys(shape), ...Object.keys(unsupported)];
  const ignored = Object.fromEntries(Object.keys(unsupported).map((key) => [key, z.unknown().optional()]));
  return z.looseObject({ ...ignored, ...shape } as T, { error: typeMessage('a mapping') }).superRefine(
    (fields, ctx) => {
      for (const [key, value] of Object.entries(fields as Record<string, unknown>)) {
        if (Object.hasOwn(unsupported, key)) {
          if (hasSettings(value)) ctx.addIssue({ code: 'custom', path: [key], message: `not supported: ${unsupported[key]}` });
        } else if (!known.includes(key)) {
          ctx.addIssue({ code: 'custom', path: [key], message: `unknown field (this block takes ${known.join(', ')})` });
        }
      }
    },
    { when: (payload) => isRecord(payload.value) },
  );
}

/** A mapping of known keys only (see `mapping`); null counts as absent. */
export function optionalMapping<T extends z.ZodRawShape>(shape: T, unsupported: Readonly<Record<string, string>> = {}) {
  return mapping(shape, unsupported).nullish();
}

/** Reports an issue at a path relative to the value being parsed. */
export type Report = (path: ReadonlyArray<PropertyKey>, message: string) => void;

export function reporter(ctx: z.RefinementCtx, base: ReadonlyArray<PropertyKey> = []): Report {
  return (path, message) => ctx.addIssue({ code: 'custom', path: [...base, ...path], message });
}
