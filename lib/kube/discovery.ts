// Discovery: every vCluster's Helm chart keeps its values in the host Secret `vc-config-<name>` (key `config.yaml`,
// label `app=vcluster`) in its host namespace. Each becomes a policy, "no policy" (disabled/absent), or an error.
import * as k8s from '@kubernetes/client-node';
import type { ClusterRef, EngineChoice, SnapshotPolicy } from '../../contracts/definitions';
import { formatErrors, parsePolicy } from '../policy';

export const CONFIG_SECRET_PREFIX = 'vc-config-';
/** Per-cluster engine choice on the vc-config Secret: `direct`, `request` or `auto` (the default). */
export const ENGINE_ANNOTATION = 'vcsnap.io/engine';

function engineChoice(value: string | undefined, fallback: EngineChoice): EngineChoice | { error: string } {
  if (value === undefined || value === '') return fallback;
  if (value === 'auto' || value === 'direct' || value === 'request') return value;
  return { error: `annotation ${ENGINE_ANNOTATION}: "${value}" is not one of auto, direct, request` };
}

export interface DiscoveredCluster {
  cluster: ClusterRef;
  policy: SnapshotPolicy | null;
  /** Why there is no policy: 'disabled', 'absent', or the validation errors. */
  reason?: string;
  error?: string;
}

/** `defaultEngine`: the worker's choice (VCSNAP_ENGINE) for clusters whose Secret does not say. */
export async function discoverClusters(kube: k8s.KubeConfig, defaultEngine: EngineChoice = 'auto'): Promise<DiscoveredCluster[]> {
  const core = kube.makeApiClient(k8s.CoreV1Api);
  const found: DiscoveredCluster[] = [];
  let _continue: string | undefined;
  do {
    const page = await core.listSecretForAllNamespaces({ labelSelector: 'app=vcluster', limit: 500, _continue });
    for (const secret of page.items) {
      const secretName = secret.metadata?.name ?? '';
      if (!secretName.startsWith(CONFIG_SECRET_PREFIX)) continue;
      const cluster = { name: secretName.slice(CONFIG_SECRET_PREFIX.length), namespace: secret.metadata?.namespace ?? 'default' };
      const encoded = secret.data?.['config.yaml'];
      if (!encoded) {
        found.push({ cluster, policy: null, error: `Secret ${cluster.namespace}/${secretName} has no config.yaml key` });
        continue;
      }
      const engine = engineChoice(secret.metadata?.annotations?.[ENGINE_ANNOTATION], defaultEngine);
      if (typeof engine === 'object') {
        found.push({ cluster, policy: null, error: engine.error });
        continue;
      }
      const parsed = parsePolicy(Buffer.from(encoded, 'base64').toString('utf8'), cluster, { chartLabel: secret.metadata?.labels?.chart });
      if (parsed.ok) found.push({ cluster, policy: parsed.policy && (engine === 'auto' ? parsed.policy : { ...parsed.policy, engine }), reason: parsed.policy ? undefined : parsed.reason });
      else found.push({ cluster, policy: null, error: formatErrors(parsed.errors) });
    }
    _continue = page.metadata?._continue;
  } while (_continue);
  return found.sort((a, b) => `${a.cluster.namespace}/${a.cluster.name}`.localeCompare(`${b.cluster.namespace}/${b.cluster.name}`));
}
