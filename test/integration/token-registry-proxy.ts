// A Bearer-token front for the harness's open registry: the real distribution server does the storage, this proxy
// plays the token service (realm/service/scope challenge, basic-auth'd token endpoint) and can inject transient
// failures and shrink tag-list pages, so the OCI client's token flow, retries and pagination run against a real
// registry behind it.
import { randomBytes } from 'node:crypto';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TokenRequest {
  scopes: string[];
  service: string | null;
  basicAuth: boolean;
}

export interface TokenRegistryProxy {
  host: string;
  tokenRequests: TokenRequest[];
  /**
   * Answers the next `times` requests matching `method` and `path` with `status`: instead of forwarding them, or,
   * with `afterForwarding`, once the registry has handled them (an answer lost on the way back).
   */
  failNext(method: string, path: RegExp, status: number, times?: number, afterForwarding?: boolean): void;
  /** Requests answered by an injected failure so far. */
  injectedFailures: number;
  /** Forgets every issued token, as if they expired. */
  revokeTokens(): void;
  close(): Promise<void>;
}

export async function startTokenRegistryProxy(opts: {
  upstream: string;
  username: string;
  password: string;
  /** Rewrites `n` on tag listings so a handful of tags spans several pages. */
  tagsPageSize?: number;
}): Promise<TokenRegistryProxy> {
  const tokens = new Set<string>();
  const failures: { method: string; path: RegExp; status: number; times: number; afterForwarding: boolean }[] = [];
  const expectedBasic = `Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString('base64')}`;
  let host = '';

  const proxy: TokenRegistryProxy = {
    host: '',
    tokenRequests: [],
    injectedFailures: 0,
    failNext: (method, path, status, times = 1, afterForwarding = false) => failures.push({ method, path, status, times, afterForwarding }),
    revokeTokens: () => tokens.clear(),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };

  const issueToken = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    const basicAuth = req.headers.authorization === expectedBasic;
    proxy.tokenRequests.push({ scopes: url.searchParams.getAll('scope'), service: url.searchParams.get('service'), basicAuth });
    if (req.headers.authorization && !basicAuth) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"incorrect username or password"}');
      return;
    }
    const token = randomBytes(16).toString('hex');
    tokens.add(token);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300 }));
  };

  const injectFailure = (res: ServerResponse, status: number): void => {
    proxy.injectedFailures++;
    res.writeHead(status, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAVAILABLE","message":"injected"}]}');
  };

  const forward = (req: IncomingMessage, res: ServerResponse, url: URL, loseAnswer?: number): void => {
    if (opts.tagsPageSize && url.pathname.endsWith('/tags/list')) url.searchParams.set('n', String(opts.tagsPageSize));
    const headers = { ...req.headers };
    delete headers.authorization;
    const upstream = request(`http://${opts.upstream}${url.pathname}${url.search}`, { method: req.method, headers }, (answer) => {
      if (loseAnswer) return answer.resume().on('end', () => injectFailure(res, loseAnswer));
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${host}`);
    if (url.pathname === '/token') return issueToken(req, res, url);
    const failure = failures.find((f) => f.times > 0 && f.method === req.method && f.path.test(url.pathname));
    if (failure) failure.times--;
    if (failure && !failure.afterForwarding) {
      req.resume();
      return injectFailure(res, failure.status);
    }
    const bearer = req.headers.authorization?.match(/^Bearer (.+)$/)?.[1];
    if (!bearer || !tokens.has(bearer)) {
      const repository = url.pathname.match(/^\/v2\/(.+?)\/(?:blobs|manifests|tags)\//)?.[1];
      const scope = repository ? `,scope="repository:${repository}:pull,push"` : '';
      req.resume();
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${host}/token",service="vcsnap-proxy"${scope}`, 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return;
    }
    forward(req, res, url, failure?.status);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.host = host;
  return proxy;
}
