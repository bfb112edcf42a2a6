// Synthetic Kubernetes key space: `/registry/<resource>/<namespace>/<name>` keys and JSON-like values of 200 B to
// 8 KiB (mean about 1 KiB, so 1M keys are about 1 GiB), mixing repetitive field text with random ids and base64, so
// gzip works about as hard as on a real cluster's objects. Deterministic: the same index always gives the same pair.
const RESOURCES: ReadonlyArray<readonly [resource: string, weight: number]> = [
  ['events', 30], ['pods', 18], ['configmaps', 12], ['secrets', 10], ['replicasets', 6], ['endpointslices', 6],
  ['services/specs', 4], ['deployments', 4], ['serviceaccounts', 4], ['leases', 3], ['persistentvolumeclaims', 2],
  ['roles', 1],
];
const RESOURCE_TABLE = RESOURCES.flatMap(([resource, weight]) => Array<string>(weight).fill(resource));
const NAMESPACES = 200;
const WORDS = (
  'apiVersion kind metadata name namespace uid resourceVersion creationTimestamp labels annotations app tier ' +
  'frontend backend managedFields manager kube-controller-manager operation Update fieldsType FieldsV1 spec ' +
  'containers image registry.k8s.io/pause:3.10 imagePullPolicy IfNotPresent resources requests limits cpu memory ' +
  'ports containerPort protocol TCP volumeMounts mountPath readOnly true false status phase Running conditions ' +
  'type Ready lastTransitionTime reason message hostIP podIP startTime qosClass Burstable ownerReferences ' +
  'controller blockOwnerDeletion data stringData selector matchLabels template strategy RollingUpdate replicas'
).split(' ');
const FILLER_BYTES = 8 * 1024 * 1024;

/** xorshift32: fast, deterministic per key index. */
function rng(seed: number): () => number {
  let state = seed * 2654435761 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

/** Field text with random ids and, now and then, a base64 blob (certificates, tokens): about 3:1 under gzip -3. */
function fillerText(): Buffer {
  const random = rng(7);
  const noise = Buffer.alloc(FILLER_BYTES);
  for (let offset = 0; offset < noise.length; offset += 4) noise.writeUInt32LE(Math.floor(random() * 2 ** 32), offset);
  const blob = noise.toString('base64');
  const parts: string[] = [];
  let length = 0;
  while (length < FILLER_BYTES) {
    const roll = random();
    const at = Math.floor(random() * (blob.length - 400));
    const part =
      roll < 0.02
        ? `"${blob.slice(at, at + 80 + Math.floor(random() * 300))}",`
        : roll < 0.2
          ? `"${Math.floor(random() * 2 ** 32).toString(16)}-${Math.floor(random() * 2 ** 32).toString(36)}",`
          : `"${WORDS[Math.floor(random() * WORDS.length)]}":"${WORDS[Math.floor(random() * WORDS.length)]}",`;
    parts.push(part);
    length += part.length;
  }
  return Buffer.from(parts.join('').slice(0, FILLER_BYTES));
}

let filler: Buffer | undefined;

/** 70% 200-800 B, 25% 800-3000 B, 5% 3000-8192 B: mean about 1 KiB, like a cluster of mostly small objects. */
function valueSize(random: () => number): number {
  const roll = random();
  if (roll < 0.7) return 200 + Math.floor(random() * 600);
  if (roll < 0.95) return 800 + Math.floor(random() * 2200);
  return 3000 + Math.floor(random() * 5193);
}

export interface KeyValue {
  key: string;
  value: Buffer;
}

export function keyValueAt(index: number): KeyValue {
  filler ??= fillerText();
  const random = rng(index + 1);
  const resource = RESOURCE_TABLE[Math.floor(random() * RESOURCE_TABLE.length)]!;
  const namespace = `ns-${(Math.floor(random() * NAMESPACES)).toString().padStart(3, '0')}`;
  const name = `${resource.split('/')[0]!.replace(/s$/, '')}-${index.toString(36)}-${Math.floor(random() * 36 ** 5).toString(36)}`;
  const key = `/registry/${resource}/${namespace}/${name}`;
  const head = Buffer.from(`{"kind":"${resource}","metadata":{"name":"${name}","namespace":"${namespace}","uid":"${index}"},"data":{`);
  const size = Math.max(valueSize(random), head.length + 2);
  const offset = Math.floor(random() * (filler.length - size));
  const value = Buffer.allocUnsafe(size);
  head.copy(value);
  filler.copy(value, head.length, offset, offset + size - head.length - 2);
  value.write('}}', size - 2);
  return { key, value };
}
