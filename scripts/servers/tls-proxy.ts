// A TLS front for a plain-HTTP loopback server: a throwaway CA and a serving certificate for 127.0.0.1 (made with the
// openssl CLI, which Debian ships), and a proxy that terminates TLS and pipes to the plain port. Tests use it where
// the other side insists on https with a verified certificate (vCluster's OCI store pushes with https only; Go reads
// the CA from SSL_CERT_FILE).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { createServer } from 'node:tls';
import { freePort } from './process';

export interface TlsProxy {
  port: number;
  /** PEM of the CA that signed the proxy's certificate. */
  caFile: string;
  stop(): Promise<void>;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** CA and a 127.0.0.1 serving certificate under `dir`. */
export function makeLoopbackCertificate(dir: string): { caFile: string; certFile: string; keyFile: string } {
  mkdirSync(dir, { recursive: true });
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=vcsnap test CA', '-keyout', 'ca.key', '-out', 'ca.crt'], dir);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr'], dir);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.ext', '-out', 'server.crt'], dir);
  return { caFile: join(dir, 'ca.crt'), certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key') };
}

/** A client certificate (CN `cn`, clientAuth) signed by the CA `makeLoopbackCertificate` made in `dir`. */
export function makeClientCertificate(dir: string, cn: string): { certFile: string; keyFile: string } {
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', 'client.key', '-out', 'client.csr'], dir);
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  openssl(['x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'client.ext', '-out', 'client.crt'], dir);
  return { certFile: join(dir, 'client.crt'), keyFile: join(dir, 'client.key') };
}

export async function startTlsProxy(opts: { dir: string; targetPort: number }): Promise<TlsProxy> {
  const { caFile, certFile, keyFile } = makeLoopbackCertificate(opts.dir);
  const sockets = new Set<Socket>();
  const server = createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (client) => {
    const upstream = connect(opts.targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => socket.destroy());
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    port,
    caFile,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
