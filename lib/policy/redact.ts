// The Helm values that go into an archive's release entry (`/vcluster/snapshot/release`, read by
// `vcluster create --restore`), with every credential removed (SPEC 5, 9): the auto-snapshot storage's inline
// credentials (S3 URL query options, OCI username/password, a SAS in an Azure blob URL) and anything secret under a
// `credential` key. The rest is kept as written (comments and order included), so vCluster recreates the same cluster
// from it.
import { isMap, isScalar, parseDocument, type Document, type YAMLMap } from 'yaml';

/** S3 URL query options that carry credentials (vCluster's pkg/snapshot options). */
const CREDENTIAL_QUERY_KEYS = new Set(['access-key-id', 'secret-access-key', 'session-token']);
/** What may stay under a `credential` key: a reference to a Secret, not its contents. */
const REFERENCE_KEYS = new Set(['secretName', 'secretNamespace', 'name', 'namespace']);
const AUTO_SNAPSHOT_PATHS = [
  ['snapshots', 'auto'],
  ['external', 'platform', 'autoSnapshot'],
];

function withoutCredentialQuery(url: string): string {
  const at = url.indexOf('?');
  if (at < 0) return url;
  const kept = url
    .slice(at + 1)
    .split('&')
    .filter((pair) => pair !== '' && !CREDENTIAL_QUERY_KEYS.has(decodeURIComponent(pair.split('=')[0])));
  return kept.length > 0 ? `${url.slice(0, at)}?${kept.join('&')}` : url.slice(0, at);
}

/** Removes every non-reference key of each `credential` mapping, at any depth. */
function stripCredentialMaps(node: unknown): void {
  if (!isMap(node)) {
    if (node && typeof node === 'object' && 'items' in node && Array.isArray((node as { items: unknown[] }).items)) {
      for (const item of (node as { items: unknown[] }).items) stripCredentialMaps(item);
    }
    return;
  }
  for (const pair of [...node.items]) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (key === 'credential' && isMap(pair.value)) {
      const credential = pair.value as YAMLMap;
      for (const inner of [...credential.items]) {
        const innerKey = isScalar(inner.key) ? String(inner.key.value) : '';
        if (!REFERENCE_KEYS.has(innerKey)) credential.delete(inner.key);
      }
    } else {
      stripCredentialMaps(pair.value);
    }
  }
}

function stripStorage(document: Document, block: string[]): void {
  const url = document.getIn([...block, 'storage', 's3', 'url']);
  if (typeof url === 'string') document.setIn([...block, 'storage', 's3', 'url'], withoutCredentialQuery(url));
  // A SAS in an Azure blob URL (which the parser refuses, so no snapshot is taken with it, but the values are kept).
  const blobUrl = document.getIn([...block, 'storage', 'azure', 'blobUrl']);
  if (typeof blobUrl === 'string' && blobUrl.includes('?')) document.setIn([...block, 'storage', 'azure', 'blobUrl'], blobUrl.slice(0, blobUrl.indexOf('?')));
  for (const key of ['username', 'password']) {
    if (document.hasIn([...block, 'storage', 'oci', key])) document.deleteIn([...block, 'storage', 'oci', key]);
  }
}

/** The values YAML with every credential removed; unparsable YAML yields no values at all rather than a leak. */
export function redactValues(valuesYaml: string): string {
  const document = parseDocument(valuesYaml, { version: '1.1' });
  if (document.errors.length > 0) return '';
  for (const block of AUTO_SNAPSHOT_PATHS) stripStorage(document, block);
  stripCredentialMaps(document.contents);
  return document.toString();
}
