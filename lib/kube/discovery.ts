// Discovery: every vCluster's Helm chart keeps its values in the host Secret `vc-config-<name>` (key `config.yaml`,
// label `app=vcluster`) in its host namespace. Each becomes a policy, "no policy" (disabled/absent), or an error.
// The values are tenant-written and hostile (SPEC section 9): a bad Secret is its own cluster's error, never an
// exception that stops discovery of the others.
import * as k8s from '@kubernetes/client-node';
import type { ClusterRef, EngineChoice, SnapshotPolicy } from '../../contracts/definitions';
import { decodeConfigBytes, formatIssue, parsePolicy, type ConfigIssue, type PolicyLimits } from '../policy';
import { parseRecipients } from '../archive/encryption';
import { parseGoDuration } from '../policy/duration';
import { loadPolicyLimits } from '../runtime-config';

export const CONFIG_SECRET_PREFIX = 'vc-config-';
/** Per-cluster engine choice on the vc-config Secret: `direct`, `request` or `auto` (the default). */
export const ENGINE_ANNOTATION = 'vcsnap.io/engine';

/** Per-cluster drill interval on the vc-config Secret: a duration such as `24h` or `168h`, or `off`. */
export const DRILL_INTERVAL_ANNOTATION = 'vcsnap.io/drill-interval';

/**
 * Per-cluster encryption on the vc-config Secret: age X25519 public keys (`age1...`, comma- or space-separated) this
 * cluster's archives are encrypted to, besides the worker's own (VCSNAP_ENCRYPTION_RECIPIENTS).
 */
export const ENCRYPTION_RECIPIENTS_ANNOTATION = 'vcsnap.io/encryption-recipients';

/** Secrets per list call: each may be up to 1 MiB, so a page of hostile ones stays a few tens of MiB in memory. */
const PAGE_SIZE = 50;

// One cluster's error goes into the sync report, which is an activity result in workflow history (2 MiB at most
// for all clusters together): a tenant's config gets a page of issues, each a few lines long, not more.
const MAX_ISSUES_PER_CLUSTER = 10;
const MAX_ISSUE_LENGTH = 400;

function engineChoice(value: string | undefined, fallback: EngineChoice): EngineChoice | { error: string } {
  if (value === undefined || value === '') return fallback;
  if (value === 'auto' || value === 'direct' || value === 'request') return value;
  return { error: `annotation ${ENGINE_ANNOTATION}: "${value.slice(0, 40)}" is not one of auto, direct, request` };
}

/** The annotation's interval in seconds, null for `off`, undefined when absent; never shorter than the snapshot minimum. */
function drillInterval(value: string | undefined, limits: PolicyLimits): number | null | undefined | { error: string } {
  if (value === undefined || value.trim() === '') return undefined;
  if (value.trim() === 'off') return null;
  const milliseconds = parseGoDuration(value.trim());
  const minimum = Math.max(limits.minScheduleIntervalSeconds, 60);
  if (milliseconds === undefined || milliseconds < minimum * 1000) {
    return { error: `annotation ${DRILL_INTERVAL_ANNOTATION}: "${value.slice(0, 40)}" is not a duration of at least ${minimum}s (e.g. 24h, 168h) or off` };
  }
  return milliseconds / 1000;
}

export interface DiscoveredCluster {
  cluster: ClusterRef;
  policy: SnapshotPolicy | null;
  /** From DRILL_INTERVAL_ANNOTATION: seconds, null for `off`, absent = the worker's default. */
  drillIntervalSeconds?: number | null;
  /** Why there is no policy: 'disabled', 'absent', or the validation errors. */
  reason?: string;
  error?: string;
}

/**
 * `defaultEngine`: the worker's choice (VCSNAP_ENGINE) for clusters whose Secret does not say. `limits`: the worker's
 * bounds on what a policy may ask for (VCSNAP_MIN_SCHEDULE_INTERVAL, VCSNAP_MAX_VOLUME_CONCURRENCY). `namespaces`:
 * the host namespaces the worker serves (VCSNAP_NAMESPACES, the namespaced deploy mode); absent = every namespace.
 */
export async function discoverClusters(
  kube: k8s.KubeConfig,
  defaultEngine: EngineChoice = 'auto',
  limits: PolicyLimits = loadPolicyLimits(),
  namespaces?: readonly string[],
): Promise<DiscoveredCluster[]> {
  const core = kube.makeApiClient(k8s.CoreV1Api);
  const found: DiscoveredCluster[] = [];
  // Namespaced mode lists each served namespace (all its RBAC allows); cluster-wide mode lists them all at once.
  const listers = namespaces
    ? namespaces.map((namespace) => (_continue?: string) => core.listNamespacedSecret({ namespace, labelSelector: 'app=vcluster', limit: PAGE_SIZE, _continue }))
    : [(_continue?: string) => core.listSecretForAllNamespaces({ labelSelector: 'app=vcluster', limit: PAGE_SIZE, _continue })];
  for (const list of listers) {
    let _continue: string | undefined;
    do {
      const page = await list(_continue);
      for (const secret of page.items) {
        if (!(secret.metadata?.name ?? '').startsWith(CONFIG_SECRET_PREFIX)) continue;
        found.push(clusterFromSecret(secret, defaultEngine, limits));
      }
      _continue = page.metadata?._continue;
    } while (_continue);
  }
  return found.sort((a, b) => `${a.cluster.namespace}/${a.cluster.name}`.localeCompare(`${b.cluster.namespace}/${b.cluster.name}`));
}

/** One `vc-config-<name>` Secret as its cluster's policy, "no policy", or error. Never throws. */
export function clusterFromSecret(secret: k8s.V1Secret, defaultEngine: EngineChoice, limits: PolicyLimits): DiscoveredCluster {
  const secretName = secret.metadata?.name ?? '';
  const cluster = { name: secretName.slice(CONFIG_SECRET_PREFIX.length), namespace: secret.metadata?.namespace ?? 'default' };
  const where = `Secret ${cluster.namespace}/${secretName}`;
  try {
    return readConfig(secret, cluster, where, defaultEngine, limits);
  } catch (err) {
    // Not expected (the parser reports bad input as issues); if it happens, it stays this cluster's problem.
    const why = err instanceof Error ? `${err.name}: ${err.message}` : 'unknown error';
    return { cluster, policy: null, error: `${where} (config.yaml) could not be read: ${why.slice(0, MAX_ISSUE_LENGTH)}` };
  }
}

function readConfig(secret: k8s.V1Secret, cluster: ClusterRef, where: string, defaultEngine: EngineChoice, limits: PolicyLimits): DiscoveredCluster {
  const encoded = secret.data?.['config.yaml'];
  if (!encoded) return { cluster, policy: null, error: `${where} has no config.yaml key` };
  const engine = engineChoice(secret.metadata?.annotations?.[ENGINE_ANNOTATION], defaultEngine);
  if (typeof engine === 'object') return { cluster, policy: null, error: engine.error };
  const drill = drillInterval(secret.metadata?.annotations?.[DRILL_INTERVAL_ANNOTATION], limits);
  if (typeof drill === 'object' && drill !== null) return { cluster, policy: null, error: drill.error };
  const drillIntervalSeconds = drill === undefined ? {} : { drillIntervalSeconds: drill };
  const recipientsText = secret.metadata?.annotations?.[ENCRYPTION_RECIPIENTS_ANNOTATION];
  const recipients = recipientsText === undefined ? undefined : parseRecipients(recipientsText, `annotation ${ENCRYPTION_RECIPIENTS_ANNOTATION}`);
  if (recipients && !recipients.ok) return { cluster, policy: null, error: `${where}: ${recipients.error}`.slice(0, MAX_ISSUE_LENGTH * 2) };
  const encryption = recipients?.ok ? { encryption: { recipients: recipients.recipients } } : {};
  const text = decodeConfigBytes(Buffer.from(encoded, 'base64'));
  if (!text.ok) return { cluster, policy: null, error: formatClusterErrors(where, text.errors) };
  const parsed = parsePolicy(text.text, cluster, { chartLabel: secret.metadata?.labels?.chart, limits });
  if (!parsed.ok) return { cluster, policy: null, error: formatClusterErrors(where, parsed.errors) };
  if (!parsed.policy) return { cluster, policy: null, reason: parsed.reason };
  return { cluster, policy: { ...parsed.policy, ...(engine === 'auto' ? {} : { engine }), ...encryption }, ...drillIntervalSeconds };
}

/**
 * One line per issue, as formatErrors gives them, bounded in count and length. Field issues start with their path
 * from the vcluster.yaml root; document-level ones (size, encoding, YAML syntax) name the Secret they are about.
 */
export function formatClusterErrors(where: string, issues: ReadonlyArray<ConfigIssue>): string {
  const lines = issues.slice(0, MAX_ISSUES_PER_CLUSTER).map((issue) => {
    const line = issue.path === '' ? `${where} (config.yaml): ${issue.message}` : formatIssue(issue);
    return line.length > MAX_ISSUE_LENGTH ? `${line.slice(0, MAX_ISSUE_LENGTH - 1)}…` : line;
  });
  const hidden = issues.length - lines.length;
  if (hidden > 0) lines.push(`(and ${hidden} more issues in ${where})`);
  return lines.join('\n');
}
