// A TLS front for a plain-HTTP loopback server: a throwaway CA and a serving certificate for 127.0.0.1 (made with the
// openssl CLI, which Debian ships), and a proxy that terminates TLS and pipes to the plain port. Tests use it where
// the other side insists on https with a verified certificate (vCluster's OCI store pushes with https only; Go reads
// the CA from SSL_CERT_FILE).
// `startInterceptingProxy` is the same front for a client that builds a public host name itself (vCluster's Azure store
// always dials https://<account>.blob.core.windows.net): an HTTPS_PROXY that accepts CONNECT to that domain only, serves
// a certificate for it from the test CA, and pipes the decrypted stream to the loopback server, recording every host
// the client asked for.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { createSecureContext, createServer, TLSSocket } from 'node:tls';
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

/** CA and a serving certificate for `subjectAltName` (by default 127.0.0.1) under `dir`. */
export function makeLoopbackCertificate(dir: string, subjectAltName = 'IP:127.0.0.1'): { caFile: string; certFile: string; keyFile: string } {
  mkdirSync(dir, { recursive: true });
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=vcsnap test CA', '-keyout', 'ca.key', '-out', 'ca.crt'], dir);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=vcsnap test server', '-keyout', 'server.key', '-out', 'server.csr'], dir);
  writeFileSync(join(dir, 'san.ext'), `subjectAltName=${subjectAltName}\nextendedKeyUsage=serverAuth\n`);
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

/** Pipes `client` to the loopback `targetPort` both ways; both sockets are tracked in `sockets` until they close. */
function pipeToLoopback(client: Socket, targetPort: number, sockets: Set<Socket>): void {
  const upstream = connect(targetPort, '127.0.0.1');
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
}

async function listenOnLoopback(server: Server | ReturnType<typeof createServer>, sockets: Set<Socket>): Promise<{ port: number; stop(): Promise<void> }> {
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

export async function startTlsProxy(opts: { dir: string; targetPort: number }): Promise<TlsProxy> {
  const { caFile, certFile, keyFile } = makeLoopbackCertificate(opts.dir);
  const sockets = new Set<Socket>();
  const server = createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (client) => pipeToLoopback(client, opts.targetPort, sockets));
  return { caFile, ...(await listenOnLoopback(server, sockets)) };
}

export interface InterceptingProxy extends TlsProxy {
  /** `http://127.0.0.1:<port>`, for HTTPS_PROXY. */
  url: string;
  /** Every CONNECT target asked for, allowed or not, in order (`host:port`). */
  connects: string[];
}

/** An HTTPS_PROXY that serves `*.<domain>:443` from the loopback `targetPort` (TLS from a test CA) and refuses any other target. */
export async function startInterceptingProxy(opts: { dir: string; domain: string; targetPort: number }): Promise<InterceptingProxy> {
  const { caFile, certFile, keyFile } = makeLoopbackCertificate(opts.dir, `DNS:*.${opts.domain}`);
  const secureContext = createSecureContext({ cert: readFileSync(certFile), key: readFileSync(keyFile) });
  const sockets = new Set<Socket>();
  const connects: string[] = [];
  const server = createHttpServer((_request, response) => response.writeHead(405).end());
  server.on('connect', (request: { url?: string }, client: Socket, head: Buffer) => {
    const target = request.url ?? '';
    connects.push(target);
    const [host = '', port] = target.split(':');
    if (port !== '443' || !host.endsWith(`.${opts.domain}`)) {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) client.unshift(head);
    pipeToLoopback(new TLSSocket(client, { isServer: true, secureContext }), opts.targetPort, sockets);
  });
  const listening = await listenOnLoopback(server, sockets);
  return { caFile, connects, url: `http://127.0.0.1:${listening.port}`, ...listening };
}
