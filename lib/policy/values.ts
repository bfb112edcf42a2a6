// Small helpers for reading untyped YAML values and describing them in messages.

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value at a key path, or undefined when any step is missing or not a mapping. */
export function getIn(value: unknown, keys: ReadonlyArray<string>): unknown {
  let current = value;
  for (const key of keys) {
    if (!isRecord(current)) return undefined;
    current = current[key];
  }
  return current;
}

export function describeType(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'number' || typeof value === 'bigint') return 'a number';
  if (typeof value === 'boolean') return 'a boolean';
  return `a ${typeof value}`;
}

/** A short rendering of a non-secret value for messages: strings quoted, numbers and booleans as is. */
export function showValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return describeType(value);
}

/**
 * Whether a storage sub-block carries any setting. Full Helm values (as stored in `vc-config-<name>`) may hold
 * empty defaults such as `oci: {repository: ""}`; those do not count as configured.
 */
export function hasSettings(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (isRecord(value)) return Object.values(value).some(hasSettings);
  return true;
}
