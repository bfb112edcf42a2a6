// Decodes restored etcd values as Kubernetes objects, counting them per kind (`ConfigMap`, `Deployment.apps`):
// kube-apiserver stores either JSON (custom resources) or its protobuf envelope (`k8s\0` + runtime.Unknown, whose
// field 1 is the TypeMeta {apiVersion, kind}). Hand-written: the few protobuf fields read here do not justify a
// protobuf runtime and generated Kubernetes types in the worker.
import { protobufFields } from '../archive/protobuf';

export type DecodedValue =
  | { kind: 'object'; key: string }
  /** Encrypted at rest (`k8s:enc:` prefix): readable only by an apiserver with the keys. */
  | { kind: 'encrypted' }
  /** Outside /registry/ (e.g. the apiserver's `compact_rev_key`): not an object. */
  | { kind: 'other' }
  | { kind: 'undecodable'; reason: string };

const ENVELOPE = Buffer.from('k8s\0');
const ENCRYPTED = Buffer.from('k8s:enc:');

/** `Kind` for the core group, `Kind.group` otherwise. */
export function kindKey(apiVersion: string, kind: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? kind : `${kind}.${apiVersion.slice(0, slash)}`;
}

export function decodeValue(key: string, value: Buffer): DecodedValue {
  if (!key.startsWith('/registry/')) return { kind: 'other' };
  if (value.subarray(0, ENCRYPTED.length).equals(ENCRYPTED)) return { kind: 'encrypted' };
  if (value.subarray(0, ENVELOPE.length).equals(ENVELOPE)) {
    const unknown = protobufFields(value, ENVELOPE.length, value.length);
    const typeMeta = unknown?.get(1);
    const meta = typeMeta && protobufFields(value, typeMeta.start, typeMeta.end);
    const apiVersion = meta?.get(1);
    const kind = meta?.get(2);
    if (!unknown?.get(2) || !apiVersion || !kind) return { kind: 'undecodable', reason: 'not a valid Kubernetes protobuf envelope' };
    return { kind: 'object', key: kindKey(value.toString('utf8', apiVersion.start, apiVersion.end), value.toString('utf8', kind.start, kind.end)) };
  }
  if (value[0] === 0x7b) {
    try {
      const parsed = JSON.parse(value.toString('utf8')) as { apiVersion?: unknown; kind?: unknown };
      if (typeof parsed.apiVersion === 'string' && typeof parsed.kind === 'string' && parsed.kind !== '') return { kind: 'object', key: kindKey(parsed.apiVersion, parsed.kind) };
      return { kind: 'undecodable', reason: 'JSON without apiVersion and kind' };
    } catch {
      return { kind: 'undecodable', reason: 'not valid JSON' };
    }
  }
  return { kind: 'undecodable', reason: 'neither JSON nor a Kubernetes protobuf envelope' };
}

/** Counts decoded values; keeps the first few undecodable keys as examples. */
export class ObjectCounter {
  readonly objects: Record<string, number> = {};
  encrypted = 0;
  other = 0;
  undecodable = 0;
  readonly undecodableExamples: string[] = [];

  add(key: string, value: Buffer): void {
    const decoded = decodeValue(key, value);
    if (decoded.kind === 'object') this.objects[decoded.key] = (this.objects[decoded.key] ?? 0) + 1;
    else if (decoded.kind === 'encrypted') this.encrypted++;
    else if (decoded.kind === 'other') this.other++;
    else {
      this.undecodable++;
      if (this.undecodableExamples.length < 5) this.undecodableExamples.push(`${key}: ${decoded.reason}`);
    }
  }

  /** Kinds in key order, so records and reports read the same every time. */
  sorted(): Record<string, number> {
    return Object.fromEntries(Object.entries(this.objects).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
}
