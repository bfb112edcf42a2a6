// URL query parsing with the semantics of vCluster's snapshot URLs (Go net/url + options.PopulateStructFromMap).
// Messages name keys only: query values can be credentials.

export interface QueryOption {
  key: string;
  value: string;
}

export interface ParsedQuery {
  options: QueryOption[];
  reasons: string[];
}

function unescapeQuery(text: string): string | undefined {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/** Splits `a=1&b=2`; a repeated key, a `;` separator or bad percent-encoding is a reason, not an option. */
export function parseQuery(query: string): ParsedQuery {
  const options: QueryOption[] = [];
  const reasons: string[] = [];
  const seen = new Set<string>();
  for (const piece of query.split('&')) {
    if (piece === '') continue;
    const equals = piece.indexOf('=');
    const rawKey = equals < 0 ? piece : piece.slice(0, equals);
    const key = unescapeQuery(rawKey);
    if (key === undefined || piece.includes(';')) {
      reasons.push(`query option "${rawKey.replace(/[;=].*$/, '')}" is malformed`);
      continue;
    }
    const value = unescapeQuery(equals < 0 ? '' : piece.slice(equals + 1));
    if (value === undefined) reasons.push(`query option "${key}" has invalid percent-encoding`);
    else if (seen.has(key)) reasons.push(`query option "${key}" is given more than once`);
    else options.push({ key, value });
    seen.add(key);
  }
  return { options, reasons };
}

const TRUE_WORDS = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE_WORDS = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** Go's strconv.ParseBool. */
export function parseGoBool(text: string): boolean | undefined {
  if (TRUE_WORDS.has(text)) return true;
  if (FALSE_WORDS.has(text)) return false;
  return undefined;
}

const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Go's base64.StdEncoding as vCluster applies it to query values: spaces (a `+` unescaped by the query parser)
 * turned back into `+`, padding required, the decoded text trimmed.
 */
export function decodeStdBase64(text: string): string | undefined {
  const encoded = text.replace(/ /g, '+').trim().replace(/[\r\n]/g, '');
  if (!STD_BASE64.test(encoded)) return undefined;
  return Buffer.from(encoded, 'base64').toString('utf8').trim();
}
