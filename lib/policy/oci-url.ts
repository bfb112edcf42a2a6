// `oci://registry/repository`: the registry is always the first component (oras semantics, as vCluster uses).
import { parseGoBool, parseQuery } from './query';

export interface OciTarget {
  registry: string;
  repository: string;
  insecure: boolean;
}

export type OciRepositoryResult = { ok: true; target: OciTarget } | { ok: false; reasons: string[] };

const REGISTRY_HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

// OCI distribution spec path component.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;

export function parseOciRepository(input: string): OciRepositoryResult {
  const text = input.trim();
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text);
  if (scheme && scheme[1].toLowerCase() !== 'oci') {
    return { ok: false, reasons: [`must be oci://registry/repository, got scheme "${scheme[1]}"`] };
  }
  const reasons: string[] = [];
  const rest = scheme ? text.slice(scheme[0].length) : text;
  if (rest.includes('#')) reasons.push('must not contain a fragment (#)');
  const [reference, query = ''] = rest.replace(/#.*$/, '').split(/\?(.*)/s);
  const target: OciTarget = { registry: '', repository: '', insecure: false };
  const slash = reference.indexOf('/');
  const registry = slash < 0 ? reference : reference.slice(0, slash);
  const repository = slash < 0 ? '' : reference.slice(slash + 1).replace(/\/+$/, '');
  if (registry.includes('@')) {
    reasons.push('must not carry credentials; use storage.oci.credential');
  } else if (!REGISTRY_HOST.test(registry)) {
    reasons.push(registry === '' ? 'missing registry (expected oci://registry/repository)' : `invalid registry host "${registry}"`);
  }
  if (slash < 0 || repository === '') reasons.push('missing repository path (expected oci://registry/repository)');
  else reasons.push(...checkRepositoryPath(repository));
  target.registry = registry;
  target.repository = repository;
  const parsed = parseQuery(query);
  reasons.push(...parsed.reasons);
  for (const { key, value } of parsed.options) {
    if (key !== 'insecure') {
      reasons.push(`query option "${key}" is unknown (supported: insecure)`);
      continue;
    }
    const flag = parseGoBool(value);
    if (flag === undefined) reasons.push(`query option "insecure" must be true or false, got "${value}"`);
    else target.insecure = flag;
  }
  return reasons.length > 0 ? { ok: false, reasons } : { ok: true, target };
}

function checkRepositoryPath(path: string): string[] {
  if (path.includes('@')) return ['must not contain a digest; vcsnap tags each snapshot with its name'];
  const last = path.slice(path.lastIndexOf('/') + 1);
  if (last.includes(':')) {
    return [`must not contain a tag (":${last.slice(last.indexOf(':') + 1)}"); vcsnap tags each snapshot with its name`];
  }
  if (path.split('/').every((component) => PATH_COMPONENT.test(component))) return [];
  return [`invalid repository path "${path}" (lowercase letters and digits separated by ".", "_", "__", "-" or "/")`];
}
