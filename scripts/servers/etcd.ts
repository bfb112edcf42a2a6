import { join } from 'node:path';
import { freePort, httpReady, startProcess, toolPath, type RunningProcess } from './process';

export interface EtcdServer extends RunningProcess {
  endpoint: string;
  dataDir: string;
}

export function etcdBinary(binary: 'etcd' | 'etcdctl' = 'etcd'): string {
  return toolPath('etcd', 'ETCD_VERSION', binary);
}

export async function startEtcd(opts: { dir: string; name: string; port?: number }): Promise<EtcdServer> {
  const port = opts.port ?? (await freePort());
  const peerPort = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const dataDir = join(opts.dir, `${opts.name}-data`);
  const running = await startProcess({
    name: opts.name,
    command: etcdBinary(),
    args: [
      '--name', opts.name, '--data-dir', dataDir,
      '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `${opts.name}=${peer}`, '--log-level', 'warn',
      '--quota-backend-bytes', String(8 * 1024 * 1024 * 1024),
    ],
    logDir: opts.dir,
    ready: httpReady(`${endpoint}/health`),
  });
  return { ...running, endpoint, dataDir };
}
