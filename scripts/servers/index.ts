// Starts the set of real servers a test run (or `npm start`) needs, in parallel, and stops them all.
import { startAzurite, type AzuriteServer } from './azurite';
import { startEtcd, type EtcdServer } from './etcd';
import { startKube, type KubeServer } from './kube';
import { startMinio, type MinioServer } from './minio';
import type { RunningProcess } from './process';
import { startRegistry, type RegistryServer } from './registry';
import { startTemporal, type TemporalServer } from './temporal';

export interface Servers {
  temporal: TemporalServer;
  minio: MinioServer;
  azurite: AzuriteServer;
  registry: RegistryServer;
  authRegistry: RegistryServer;
  etcd: EtcdServer;
  kube: KubeServer;
}

export const REGISTRY_TEST_USER = { username: 'vcsnap-pusher', password: 'vcsnap-registry-pw-Ht4v9' };

export async function startServers(dir: string, log: (line: string) => void = console.log): Promise<{ servers: Servers; stop: () => Promise<void> }> {
  const started: RunningProcess[] = [];
  const stop = async () => {
    await Promise.allSettled(started.map((server) => server.stop()));
  };
  const t0 = Date.now();
  const track = async <T extends RunningProcess>(promise: Promise<T>): Promise<T> => {
    const server = await promise;
    started.push(server);
    log(`[harness] ${server.name} ready in ${(server.startMillis / 1000).toFixed(1)}s (log: ${server.logFile})`);
    return server;
  };
  const results = await Promise.allSettled([
    track(startTemporal({ dir })),
    track(startMinio({ dir })),
    track(startAzurite({ dir })),
    track(startRegistry({ dir, name: 'registry' })),
    track(startRegistry({ dir, name: 'registry-auth', auth: REGISTRY_TEST_USER })),
    track(startEtcd({ dir, name: 'etcd' })),
    track(startKube({ dir, extraUsers: ['restricted'] })),
  ]);
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failures.length > 0) {
    await stop();
    throw new Error(failures.map((f) => String(f.reason instanceof Error ? f.reason.message : f.reason)).join('\n\n'));
  }
  const [temporal, minio, azurite, registry, authRegistry, etcd, kube] = results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as [
    TemporalServer, MinioServer, AzuriteServer, RegistryServer, RegistryServer, EtcdServer, KubeServer,
  ];
  log(`[harness] all servers up in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  return { servers: { temporal, minio, azurite, registry, authRegistry, etcd, kube }, stop };
}
