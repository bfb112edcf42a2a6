// Go `time.ParseDuration` syntax (what vCluster and robfig/cron accept): "300ms", "1.5h", "2h45m", "0".

const UNIT_MILLISECONDS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3,
  'μs': 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

// Go's time.Duration is an int64 of nanoseconds: about 292 years.
const MAX_MILLISECONDS = 9_223_372_036_854;

const TERM = /(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/y;

/** Milliseconds for a Go duration string, or undefined when Go would reject it. */
export function parseGoDuration(text: string): number | undefined {
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest.startsWith('-') ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  TERM.lastIndex = 0;
  while (TERM.lastIndex < rest.length) {
    const start = TERM.lastIndex;
    const match = TERM.exec(rest);
    if (!match || match.index !== start) return undefined;
    const [, whole = '', fraction] = match;
    if (whole === '' && (fraction === undefined || fraction === '')) return undefined;
    const amount = Number(`${whole || '0'}.${fraction ?? '0'}`);
    total += amount * (UNIT_MILLISECONDS[match[3]] ?? Number.NaN);
  }
  if (!Number.isFinite(total) || total > MAX_MILLISECONDS) return undefined;
  // Round to whole nanoseconds, as Go holds them, so "10.1s" is exactly 10100 ms.
  return sign * (Math.round(total * 1e6) / 1e6);
}
