// Parts 3 to 5 on a Temporal dev server and a kube-apiserver of their own: many policies, many PVCs, and the latency
// of scheduled runs of a small cluster (the kube-apiserver's own etcd: a few hundred real objects).
import { adminKubeConfig, startKube } from '../servers/kube';
import { serverGroup } from '../servers/process';
import { startTemporal } from '../servers/temporal';
import { measureLatency, type LatencyFigures } from './latency';
import { measurePolicies, type ApplyPass } from './policies';
import { benchPolicy } from './policy';
import { measureVolumes, type VolumeFigures } from './volumes';
import { startBenchWorker } from './worker';

export interface ScaleOptions {
  policies: number;
  pvcs: number;
  pvcConcurrency: number;
  latencyRuns: number;
  latencyEvery: string;
}

export interface ScaleFigures {
  policies?: ApplyPass[];
  volumes?: VolumeFigures;
  latency?: LatencyFigures;
}

export async function measureScale(dir: string, options: ScaleOptions, log: (line: string) => void): Promise<ScaleFigures> {
  const { track, stopAll } = serverGroup();
  try {
    const [temporal, kubeServer] = await Promise.all([track(startTemporal({ dir })), track(startKube({ dir }))]);
    const kube = adminKubeConfig(kubeServer.server, kubeServer.adminToken);
    const worker = await startBenchWorker(temporal, kube);
    const figures: ScaleFigures = {};
    try {
      const storage = { type: 'container', path: `${dir}/snapshots` } as const;
      const etcd = kubeServer.etcd.endpoint;
      if (options.policies > 0) {
        log(`[bench] applying ${options.policies} policies, three times`);
        figures.policies = await measurePolicies(worker.client, `${worker.taskQueue}-idle`, options.policies, etcd);
      }
      if (options.pvcs > 0) {
        const policy = benchPolicy('bench-volumes', storage, etcd, { volumes: { enabled: true, concurrency: options.pvcConcurrency } });
        figures.volumes = await measureVolumes(worker, kube, { ...policy, cluster: { name: 'bench-volumes', namespace: 'bench-volumes' } }, options.pvcs, log);
      }
      if (options.latencyRuns > 0) {
        log(`[bench] ${options.latencyRuns} scheduled runs of a small cluster, @every ${options.latencyEvery}`);
        const policy = benchPolicy('bench-latency', storage, etcd);
        figures.latency = await measureLatency(worker.client, worker.taskQueue, policy, options.latencyRuns, options.latencyEvery);
      }
    } finally {
      await worker.stop();
    }
    return figures;
  } finally {
    await stopAll();
  }
}
