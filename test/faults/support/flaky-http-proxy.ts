// An HTTP proxy that answers every `failEvery`-th request itself with a 5xx instead of forwarding it, like a
// registry behind an overloaded load balancer. Everything else is forwarded unchanged (Host header included, so the
// registry's upload Locations keep pointing at the proxy).
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FlakyHttpProxy {
  host: string;
  readonly requests: number;
  readonly injected: number;
  /** `METHOD path` of each injected failure, in order. */
  readonly failedRequests: string[];
  close(): Promise<void>;
}

export async function startFlakyHttpProxy(opts: { upstream: string; failEvery: number; status?: number }): Promise<FlakyHttpProxy> {
  let requests = 0;
  const failedRequests: string[] = [];
  const server = createServer((req, res) => {
    requests++;
    if (requests % opts.failEvery === 0) {
      failedRequests.push(`${req.method} ${req.url?.replace(/\?.*/, '')}`);
      req.resume();
      res.writeHead(opts.status ?? 503, { 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"UNAVAILABLE","message":"injected by the fault test"}]}');
      return;
    }
    const upstream = request(`http://${opts.upstream}${req.url ?? '/'}`, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.headersSent ? res.destroy() : res.writeHead(502).end());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    get requests() {
      return requests;
    },
    get injected() {
      return failedRequests.length;
    },
    failedRequests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
