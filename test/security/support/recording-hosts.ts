// Loopback hosts for the credential tests: HTTP (or HTTPS) servers that record every request they receive, headers
// included, so a test proves from what a host saw that credentials never reached it. 127.0.0.1 plays the registry,
// 127.0.0.2 (also loopback on Linux) another host: a different hostname, not only a different port.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';

export const REGISTRY_ADDRESS = '127.0.0.1';
export const FOREIGN_ADDRESS = '127.0.0.2';

export interface RecordedRequest {
  method: string;
  /** Path and query. */
  url: string;
  headers: IncomingHttpHeaders;
}

export interface RecordingHost {
  /** host:port */
  host: string;
  /** scheme://host:port */
  origin: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

export interface TestCertificate {
  ca: string;
  cert: string;
  key: string;
}

export async function startRecordingHost(handler: Handler, opts: { address?: string; tls?: TestCertificate } = {}): Promise<RecordingHost> {
  const requests: RecordedRequest[] = [];
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handler(req, res, Buffer.concat(chunks)));
  };
  const server: Server = opts.tls ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, listener) : createHttpServer(listener);
  const address = opts.address ?? REGISTRY_ADDRESS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, resolve);
  });
  const host = `${address}:${(server.address() as AddressInfo).port}`;
  return {
    host,
    origin: `${opts.tls ? 'https' : 'http'}://${host}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A throwaway CA and a serving certificate for both loopback addresses, made with the openssl CLI. */
export function makeTestCertificate(): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'vcsnap-sec-tls-'));
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  try {
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=vcsnap security test CA', '-keyout', 'ca.key', '-out', 'ca.crt');
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${REGISTRY_ADDRESS}`, '-keyout', 'server.key', '-out', 'server.csr');
    writeFileSync(join(dir, 'san.ext'), `subjectAltName=IP:${REGISTRY_ADDRESS},IP:${FOREIGN_ADDRESS}\nextendedKeyUsage=serverAuth\n`);
    openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', 'san.ext', '-out', 'server.crt');
    const read = (name: string): string => readFileSync(join(dir, name), 'utf8');
    return { ca: read('ca.crt'), cert: read('server.crt'), key: read('server.key') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Dispatcher {
  close(): Promise<void>;
}
type DispatcherClass = new (options: { connect: { ca: string[] } }) => Dispatcher;
// The slot Node's built-in fetch (undici) reads its dispatcher from; undici's own setGlobalDispatcher writes it.
const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');

/**
 * Makes this process's global fetch trust `ca` as well as the public roots, until the returned function restores
 * the previous dispatcher. Node 20 has no API for it short of NODE_EXTRA_CA_CERTS at start-up, and the project does
 * not depend on the undici package, so the new dispatcher is built with the class of the one fetch already uses.
 */
export function trustInFetch(ca: string): () => Promise<void> {
  void globalThis.fetch; // loading fetch installs its default dispatcher
  const slot = globalThis as unknown as Record<symbol, Dispatcher | undefined>;
  const previous = slot[GLOBAL_DISPATCHER];
  if (!previous) throw new Error("Node's fetch has no global dispatcher to replace");
  const Agent = previous.constructor as DispatcherClass;
  const trusting = new Agent({ connect: { ca: [...rootCertificates, ca] } });
  slot[GLOBAL_DISPATCHER] = trusting;
  return async () => {
    slot[GLOBAL_DISPATCHER] = previous;
    await trusting.close();
  };
}
