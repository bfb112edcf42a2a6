// IANA time zone names as Go's time.LoadLocation (vCluster, Temporal server) resolves them: case-sensitive,
// links such as US/Eastern allowed, no "Local" and no numeric offsets.

export type TimezoneCheck = { ok: true; timezone: string } | { ok: false; reason: string };

let canonicalByLowercase: Map<string, string> | undefined;

function canonicalNames(): Map<string, string> {
  canonicalByLowercase ??= new Map(Intl.supportedValuesOf('timeZone').map((name) => [name.toLowerCase(), name]));
  return canonicalByLowercase;
}

function intlAccepts(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export function checkTimezone(name: string): TimezoneCheck {
  if (name === 'UTC' || canonicalNames().get(name.toLowerCase()) === name) return { ok: true, timezone: name };
  const unknown: TimezoneCheck = { ok: false, reason: `unknown IANA time zone "${name}" (e.g. UTC, Europe/Berlin, America/New_York)` };
  if (name === 'Local' || !/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(name) || !intlAccepts(name)) return unknown;
  const sameButCase = canonicalNames().get(name.toLowerCase()) ?? (name.toLowerCase() === 'utc' ? 'UTC' : undefined);
  // Go looks the name up as a file: "america/new_york" fails there even though Intl accepts it.
  if (sameButCase !== undefined || name.split('/').some((segment) => !/^[A-Z]/.test(segment))) {
    const hint = sameButCase === undefined ? '' : `; did you mean "${sameButCase}"?`;
    return { ok: false, reason: `time zone names are case-sensitive, got "${name}"${hint}` };
  }
  return { ok: true, timezone: name };
}
