import { join } from 'node:path';
import { freePort, httpReady, startProcess, toolPath, type RunningProcess } from './process';
import { makeClientCertificate, makeLoopbackCertificate } from './tls-proxy';

/** Files of an etcd that takes TLS client connections only from certificates its CA signed. */
export interface EtcdTls {
  caFile: string;
  /** A client certificate (CN `root`) and its key. */
  certFile: string;
  keyFile: string;
}

export interface EtcdServer extends RunningProcess {
  /** `http://127.0.0.1:PORT`, or `https://` with `tls`. */
  endpoint: string;
  /** With `tls` and `plain`: a second, plain-HTTP client listener on the same member. */
  plainEndpoint?: string;
  dataDir: string;
  tls?: EtcdTls;
}

export function etcdBinary(binary: 'etcd' | 'etcdctl' = 'etcd'): string {
  return toolPath('etcd', 'ETCD_VERSION', binary);
}

/**
 * One etcd member on loopback. Plain HTTP by default; `tls: true` serves clients over TLS with client-certificate
 * authentication (`--client-cert-auth`), as vCluster's external etcd is reached, with a throwaway CA made by openssl.
 * `dataDir`: start from an existing data dir (one restored with `etcdutl snapshot restore`). `plain` (with `tls`):
 * also serve plain HTTP on another port, so TLS and plain clients read the same data (the bench's peer column).
 */
export async function startEtcd(opts: { dir: string; name: string; port?: number; tls?: boolean; plain?: boolean; dataDir?: string }): Promise<EtcdServer> {
  const port = opts.port ?? (await freePort());
  const peerPort = await freePort();
  const endpoint = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const dataDir = opts.dataDir ?? join(opts.dir, `${opts.name}-data`);
  let tls: EtcdTls | undefined;
  const tlsArgs: string[] = [];
  let ready = httpReady(`${endpoint}/health`);
  if (opts.tls) {
    const certDir = join(opts.dir, `${opts.name}-pki`);
    const { caFile, certFile, keyFile } = makeLoopbackCertificate(certDir);
    tls = { caFile, ...makeClientCertificate(certDir, 'root') };
    // Health on a plain metrics listener: the client port wants a client certificate.
    const metrics = `http://127.0.0.1:${await freePort()}`;
    tlsArgs.push('--cert-file', certFile, '--key-file', keyFile, '--client-cert-auth', '--trusted-ca-file', caFile, '--listen-metrics-urls', metrics);
    ready = httpReady(`${metrics}/health`);
  }
  const plainEndpoint = opts.tls && opts.plain ? `http://127.0.0.1:${await freePort()}` : undefined;
  const listen = plainEndpoint ? `${endpoint},${plainEndpoint}` : endpoint;
  const running = await startProcess({
    name: opts.name,
    command: etcdBinary(),
    args: [
      '--name', opts.name, '--data-dir', dataDir,
      '--listen-client-urls', listen, '--advertise-client-urls', endpoint,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `${opts.name}=${peer}`, '--log-level', 'warn',
      '--quota-backend-bytes', String(8 * 1024 * 1024 * 1024),
      ...tlsArgs,
    ],
    logDir: opts.dir,
    ready,
  });
  return { ...running, endpoint, plainEndpoint, dataDir, tls };
}
