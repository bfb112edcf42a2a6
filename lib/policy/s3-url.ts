// `s3://bucket/prefix?options`: the vCluster S3 URL, minus anything secret.
import type { S3Location } from '../../contracts/definitions';
import { decodeStdBase64, parseGoBool, parseQuery } from './query';

export type S3Target = Omit<S3Location, 'type' | 'credential'>;

const CHECKSUM_ALGORITHMS = ['CRC32', 'CRC32C', 'SHA1', 'SHA256', 'CRC64NVME'];

const SUPPORTED_OPTIONS = [
  'region',
  'force-path-style',
  'insecure-skip-tls-verify',
  'skip-client-credentials',
  'checksum-algorithm',
  'url',
  'access-key-id',
  'secret-access-key',
  'session-token',
  'kms-key-id',
  'server-side-encryption',
  'tagging',
];

// vCluster knows these, but they name files or profiles inside the vCluster pod that a worker does not have.
const POD_LOCAL_OPTIONS = ['profile', 'public-url', 'credentials-file', 'ca-cert', 'custom-key-encryption-file'];

const INLINE_CREDENTIAL_OPTIONS = ['access-key-id', 'secret-access-key', 'session-token'];

// Three to 63 characters, lowercase letters, digits, dots and hyphens, alphanumeric at both ends.
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export type S3UrlResult = { ok: true; target: S3Target } | { ok: false; reasons: string[] };

export function parseS3Url(url: string): S3UrlResult {
  if (!/^s3:\/\//i.test(url)) {
    // Only the scheme is echoed: the rest of a URL may hold credentials.
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url)?.[1];
    return { ok: false, reasons: [`must be an s3://bucket/prefix URL${scheme ? `, got scheme "${scheme}"` : ''}`] };
  }
  const reasons: string[] = [];
  const rest = url.slice('s3://'.length);
  if (rest.includes('#')) reasons.push('must not contain a fragment (#)');
  const [location, query = ''] = rest.replace(/#.*$/, '').split(/\?(.*)/s);
  const slash = location.indexOf('/');
  const bucket = slash < 0 ? location : location.slice(0, slash);
  const prefix = decodePrefix(slash < 0 ? '' : location.slice(slash + 1), reasons);
  checkBucket(bucket, reasons);
  const target: S3Target = { bucket, prefix, forcePathStyle: false, insecureSkipTlsVerify: false, skipClientCredentials: false };
  const parsed = parseQuery(query);
  reasons.push(...parsed.reasons);
  const inline = new Set<string>();
  for (const { key, value } of parsed.options) {
    const reason = applyOption(target, key, value);
    if (reason !== undefined) reasons.push(reason);
    else if (INLINE_CREDENTIAL_OPTIONS.includes(key)) inline.add(key);
  }
  if (inline.has('access-key-id') !== inline.has('secret-access-key')) {
    reasons.push('query options "access-key-id" and "secret-access-key" must be given together');
  }
  if (inline.size > 0) target.inlineCredentialsInUrl = true;
  return reasons.length > 0 ? { ok: false, reasons } : { ok: true, target };
}

function checkBucket(bucket: string, reasons: string[]): void {
  if (bucket === '') reasons.push('missing bucket name (expected s3://bucket/prefix)');
  else if (bucket.includes('@')) reasons.push('must not carry credentials before the bucket name');
  else if (bucket.includes(':')) reasons.push('the bucket must not have a port; give a custom endpoint with the base64 "url" option');
  else if (!BUCKET_NAME.test(bucket)) {
    reasons.push(`invalid bucket name "${bucket}" (3-63 lowercase letters, digits, dots or hyphens, starting and ending with a letter or digit)`);
  }
}

function decodePrefix(rawPrefix: string, reasons: string[]): string {
  try {
    return decodeURIComponent(rawPrefix).replace(/^\/+|\/+$/g, '');
  } catch {
    reasons.push('invalid percent-encoding in the prefix');
    return rawPrefix;
  }
}

/** Sets one option on the target; returns why it is rejected. Secret values are checked, never stored. */
function applyOption(target: S3Target, key: string, value: string): string | undefined {
  if (!SUPPORTED_OPTIONS.includes(key)) {
    const why = POD_LOCAL_OPTIONS.includes(key) ? 'is not supported' : 'is unknown';
    return `query option "${key}" ${why} (supported: ${SUPPORTED_OPTIONS.join(', ')})`;
  }
  if (value.trim() === '') return `query option "${key}" has an empty value`;
  switch (key) {
    case 'region':
      target.region = value.trim();
      return undefined;
    case 'checksum-algorithm':
      if (!CHECKSUM_ALGORITHMS.includes(value)) {
        return `query option "checksum-algorithm" must be one of ${CHECKSUM_ALGORITHMS.join(', ')}, got "${value}"`;
      }
      target.checksumAlgorithm = value;
      return undefined;
    case 'force-path-style':
    case 'insecure-skip-tls-verify':
    case 'skip-client-credentials':
      return applyBoolean(target, key, value);
    default:
      return applyBase64(target, key, value);
  }
}

function applyBoolean(target: S3Target, key: string, value: string): string | undefined {
  const flag = parseGoBool(value);
  if (flag === undefined) return `query option "${key}" must be true or false, got "${value}"`;
  if (key === 'force-path-style') target.forcePathStyle = flag;
  else if (key === 'insecure-skip-tls-verify') target.insecureSkipTlsVerify = flag;
  else target.skipClientCredentials = flag;
  return undefined;
}

function applyBase64(target: S3Target, key: string, value: string): string | undefined {
  const decoded = decodeStdBase64(value);
  if (decoded === undefined) return `query option "${key}" is not valid base64`;
  if (decoded === '') return `query option "${key}" has an empty value`;
  switch (key) {
    case 'url':
      if (!isEndpointUrl(decoded)) return 'query option "url" must decode to an http:// or https:// endpoint URL';
      target.endpoint = decoded;
      return undefined;
    case 'kms-key-id':
      target.kmsKeyId = decoded;
      return undefined;
    case 'server-side-encryption':
      target.serverSideEncryption = decoded;
      return undefined;
    case 'tagging':
      target.tagging = decoded;
      return undefined;
    default:
      return undefined; // access-key-id, secret-access-key, session-token: validated, deliberately dropped
  }
}

function isEndpointUrl(text: string): boolean {
  try {
    const endpoint = new URL(text);
    return (endpoint.protocol === 'http:' || endpoint.protocol === 'https:') && endpoint.username === '' && endpoint.password === '';
  } catch {
    return false;
  }
}
