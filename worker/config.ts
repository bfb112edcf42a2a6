// The one config loader for the worker and the CLI: Temporal connection from environment / temporal.toml profiles
// (@temporalio/envconfig), the host cluster from KUBECONFIG or in-cluster credentials.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { homedir } from 'node:os';
import * as k8s from '@kubernetes/client-node';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { TASK_QUEUE } from '../workflows/definitions';

export interface RuntimeConfig {
  temporal: ReturnType<typeof loadClientConnectConfig>;
  taskQueue: string;
  kube?: k8s.KubeConfig;
  metricsPort?: number;
  /** Path of a prebuilt workflow bundle (VCSNAP_WORKFLOW_BUNDLE); absent = bundle from source at start. */
  workflowBundle?: string;
}

/** Host-cluster connection, when one is configured: KUBECONFIG, ~/.kube/config, or the in-cluster service account. */
export function loadKubeConfig(): k8s.KubeConfig | undefined {
  const inCluster = existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token');
  if (!process.env.KUBECONFIG && !existsSync(join(homedir(), '.kube', 'config')) && !inCluster) return undefined;
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromDefault();
  return kubeConfig;
}

export function loadRuntimeConfig(env: NodeJS.ProcessEnv = process.env): RuntimeConfig {
  const metricsPort = env.VCSNAP_METRICS_PORT ? Number(env.VCSNAP_METRICS_PORT) : undefined;
  if (metricsPort !== undefined && !(Number.isInteger(metricsPort) && metricsPort > 0 && metricsPort < 65536)) {
    throw new Error(`VCSNAP_METRICS_PORT: not a port number: ${env.VCSNAP_METRICS_PORT}`);
  }
  return {
    temporal: loadClientConnectConfig(),
    taskQueue: env.VCSNAP_TASK_QUEUE || TASK_QUEUE,
    kube: loadKubeConfig(),
    metricsPort,
    workflowBundle: env.VCSNAP_WORKFLOW_BUNDLE || undefined,
  };
}
