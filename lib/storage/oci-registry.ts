// A small OCI distribution-spec client for one repository, on Node's global fetch. There is no published ORAS client
// for JavaScript, so this module covers exactly what the snapshot store needs, and no more:
// - auth: the `WWW-Authenticate` challenge of a 401 decides, Basic (username/password) or Bearer (a token fetched
//   from the challenge's realm with service and scope, basic-auth'd when credentials are given); one retry per 401;
// - blobs: chunked upload (POST, PATCH with Content-Range, PUT ?digest=) streamed from any async iterable with the
//   sha256 computed on the way and at most one chunk in memory; the upload session is cancelled (DELETE) on failure;
//   monolithic upload for small blobs; existence check; download as a stream;
// - manifests by tag or digest, digest resolution (HEAD), delete by digest, tag listing with Link pagination;
// - transient failures (connection errors, 429, 5xx) are retried a few times with exponential backoff.
// It knows nothing about Temporal: failures are `RegistryError`s with a `kind` the store maps to its vocabulary.
//
// Credentials go only where they belong (SPEC section 9). The registry's origin is the scheme, host and port the
// repository is configured with, and `send()` attaches Authorization (Basic credentials or the Bearer token) to
// nothing else:
// - token realm: Basic credentials go to a realm only over https, or over plain http when the repository itself is
//   configured `insecure` and the realm is on the registry's host (any port: a token service beside a development
//   registry); anything else is refused (kind `refused`, naming the realm) before a byte is sent. Without configured
//   credentials the token request carries nothing, so any http(s) realm may answer it. The Bearer token it returns
//   goes only to the registry's origin, never back to the realm;
// - a blob upload `Location` on another origin is followed WITHOUT Authorization. The distribution spec lets a
//   registry hand the upload session to another host (S3- or CDN-backed registries do), and such a session URL is
//   its own capability, so refusing would break real registries while forwarding would leak the credentials. That
//   origin's 401 challenges are not answered (refused: it would make us fetch a token for a host we do not trust),
//   and it must be https unless the repository is insecure, as the snapshot bytes travel there;
// - a tag list `Link` on another origin is refused: pagination has no reason to leave the registry, and the list
//   it would return is not the registry's word;
// - redirects are followed by fetch, which drops Authorization when one leaves the origin (Fetch standard,
//   tested); a 401 from wherever a redirect ended on another origin is not answered either.
// Error messages name origins and realms (without userinfo or query), never credentials or tokens, and text a
// server sends back is scrubbed of them before it becomes part of a message.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RegistryCredentials } from './types';

export const OCI_MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_EMPTY_MEDIA_TYPE = 'application/vnd.oci.empty.v1+json';
export const OCI_EMPTY_BLOB = Buffer.from('{}');
const MANIFEST_ACCEPT = [
  OCI_MANIFEST_MEDIA_TYPE,
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export type RegistryErrorKind =
  | 'unauthorized' // credentials missing or rejected (401 after authenticating, or the token service said no)
  | 'denied' // authenticated but not allowed (403)
  | 'repositoryNotFound' // 404 NAME_UNKNOWN
  | 'unsupported' // 405: e.g. deletes disabled on the registry
  | 'unavailable' // connection errors or 5xx/429 after the retries
  | 'refused' // this client refused: credentials or snapshot bytes would go where they do not belong
  | 'rejected'; // any other answer the protocol does not expect

export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  constructor(
    message: string,
    readonly kind: RegistryErrorKind,
    readonly status?: number,
    readonly code?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface RegistryClientOptions {
  /** host[:port] */
  registry: string;
  repository: string;
  /** Plain HTTP instead of HTTPS. */
  insecure?: boolean;
  credentials?: RegistryCredentials;
  /** Bytes per PATCH of a chunked upload. */
  chunkSize?: number;
  /** Attempts per request for transient failures (connection errors, 429, 5xx), and the first backoff. */
  retry?: { attempts: number; initialDelayMs: number };
  /**
   * Limit of one request without a body (default 60 s), and per started MiB of a body on top: a chunk PATCH on a slow
   * link may take minutes, a HEAD may not. A request past its limit is a transient failure (retried).
   */
  requestTimeoutMs?: number;
}

interface RequestSpec {
  operation: string;
  method: string;
  /** Absolute, or a path under the registry's base URL. */
  url: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** Statuses the caller handles itself; anything else is turned into a RegistryError. */
  accept: number[];
  signal?: AbortSignal;
}

const TRANSIENT_STATUSES = new Set([408, 429, 500, 502, 503, 504]);
const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;
const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

export class RegistryClient {
  readonly baseUrl: string;
  /** scheme://host:port of the configured registry: the only place Authorization is ever sent. */
  private readonly origin: string;
  private readonly repoPath: string;
  private readonly chunkSize: number;
  private readonly retry: { attempts: number; initialDelayMs: number };
  private authorization: string | undefined;
  private pinged: Promise<void> | undefined;

  constructor(private readonly options: RegistryClientOptions) {
    this.baseUrl = `${options.insecure ? 'http' : 'https'}://${options.registry}`;
    this.origin = new URL(this.baseUrl).origin;
    this.repoPath = `/v2/${options.repository}`;
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    this.retry = options.retry ?? { attempts: 4, initialDelayMs: 250 };
  }

  /** GET /v2/ once per client: proves the registry is reachable and settles authentication up front. */
  ping(signal?: AbortSignal): Promise<void> {
    this.pinged ??= this.request({ operation: 'ping', method: 'GET', url: '/v2/', accept: [200], signal }).then(drain);
    this.pinged.catch(() => (this.pinged = undefined));
    return this.pinged;
  }

  async blobExists(digest: string, signal?: AbortSignal): Promise<boolean> {
    const res = await this.request({ operation: 'check blob', method: 'HEAD', url: `${this.repoPath}/blobs/${digest}`, accept: [200, 404], signal });
    await drain(res);
    return res.status === 200;
  }

  /** Monolithic upload of a small blob (skipped when the registry has it already). */
  async pushBlob(data: Uint8Array, signal?: AbortSignal): Promise<{ digest: string; size: number }> {
    const digest = sha256Digest(data);
    if (!(await this.blobExists(digest, signal))) {
      const location = await this.startUpload(signal);
      await this.finishUpload(location, digest, data, signal);
    }
    return { digest, size: data.length };
  }

  /**
   * Chunked upload streamed from `source`: memory holds at most one chunk, the digest is computed on the way.
   * `onSession` gets the session's path once it exists (what cancelAbandonedUpload needs), `onStored` the bytes the
   * registry has accepted after each chunk.
   */
  async pushBlobStream(
    source: AsyncIterable<Uint8Array>,
    signal?: AbortSignal,
    hooks: { onSession?: (path: string) => void; onStored?: (bytes: number) => void } = {},
  ): Promise<{ digest: string; size: number }> {
    const hash = createHash('sha256');
    let location = await this.startUpload(signal);
    hooks.onSession?.(new URL(location).pathname);
    let size = 0;
    try {
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const flush = async (): Promise<void> => {
        const chunk = Buffer.concat(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
        location = await this.patchChunk(location, chunk, size, signal);
        size += chunk.length;
        hooks.onStored?.(size);
      };
      for await (const chunk of source) {
        hash.update(chunk);
        pending.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        pendingBytes += chunk.byteLength;
        if (pendingBytes >= this.chunkSize) await flush();
      }
      if (pendingBytes > 0) await flush();
      const digest = `sha256:${hash.digest('hex')}`;
      await this.finishUpload(location, digest, undefined, signal);
      return { digest, size };
    } catch (err) {
      await this.cancelUpload(location);
      throw err;
    }
  }

  async pullBlob(digest: string, signal?: AbortSignal): Promise<Readable> {
    const res = await this.request({ operation: 'pull blob', method: 'GET', url: `${this.repoPath}/blobs/${digest}`, accept: [200], signal });
    if (!res.body) throw new RegistryError(`${this.where('pull blob')} returned no body`, 'rejected', res.status);
    return Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
  }

  /** Stores a manifest under a tag (or its digest) and returns the manifest digest. */
  async putManifest(reference: string, manifest: ImageManifest, signal?: AbortSignal): Promise<string> {
    const body = Buffer.from(JSON.stringify(manifest));
    const res = await this.request({
      operation: `push manifest ${reference}`,
      method: 'PUT',
      url: `${this.repoPath}/manifests/${reference}`,
      headers: { 'content-type': manifest.mediaType },
      body,
      accept: [201],
      signal,
    });
    await drain(res);
    return sha256Digest(body);
  }

  /** The manifest a tag or digest names, or undefined when the repository has no such manifest. */
  async getManifest(reference: string, signal?: AbortSignal): Promise<{ manifest: ImageManifest; digest: string } | undefined> {
    const res = await this.request({
      operation: `pull manifest ${reference}`,
      method: 'GET',
      url: `${this.repoPath}/manifests/${reference}`,
      headers: { accept: MANIFEST_ACCEPT },
      accept: [200, 404],
      signal,
    });
    if (res.status === 404) {
      const error = await readError(res);
      if (error.code === 'NAME_UNKNOWN') throw new RegistryError(`repository ${this.options.repository} does not exist on ${this.options.registry}`, 'repositoryNotFound', 404, error.code);
      return undefined;
    }
    const raw = Buffer.from(await res.arrayBuffer());
    return { manifest: JSON.parse(raw.toString('utf8')) as ImageManifest, digest: res.headers.get('docker-content-digest') ?? sha256Digest(raw) };
  }

  /** Tag -> digest with a HEAD request; undefined when the tag does not exist. */
  async resolveDigest(reference: string, signal?: AbortSignal): Promise<string | undefined> {
    const res = await this.request({
      operation: `resolve ${reference}`,
      method: 'HEAD',
      url: `${this.repoPath}/manifests/${reference}`,
      headers: { accept: MANIFEST_ACCEPT },
      accept: [200, 404],
      signal,
    });
    await drain(res);
    if (res.status === 404) return undefined;
    const digest = res.headers.get('docker-content-digest');
    if (digest) return digest;
    return (await this.getManifest(reference, signal))?.digest;
  }

  /** Deletes a manifest (and so every tag on it) by digest; a missing one is not an error. */
  async deleteManifest(digest: string, signal?: AbortSignal): Promise<void> {
    const res = await this.request({ operation: `delete manifest ${digest}`, method: 'DELETE', url: `${this.repoPath}/manifests/${digest}`, accept: [200, 202, 204, 404], signal });
    await drain(res);
  }

  async listTags(signal?: AbortSignal): Promise<string[]> {
    const tags: string[] = [];
    let next: string | undefined = `${this.repoPath}/tags/list?n=1000`;
    while (next) {
      const res: Response = await this.request({ operation: 'list tags', method: 'GET', url: next, accept: [200], signal });
      const page = (await res.json()) as { tags?: string[] | null };
      tags.push(...(page.tags ?? []));
      next = nextLink(res.headers.get('link'));
      if (next && !this.isOwnOrigin(next)) {
        throw new RegistryError(
          `${this.where('list tags')}: the registry's next page Link points to ${originOf(next, this.baseUrl)}; pages are read only from ${this.origin}`,
          'refused',
        );
      }
    }
    return tags;
  }

  private async startUpload(signal?: AbortSignal): Promise<string> {
    const res = await this.request({ operation: 'start blob upload', method: 'POST', url: `${this.repoPath}/blobs/uploads/`, accept: [202], signal });
    await drain(res);
    return this.uploadLocation(res, 'start blob upload');
  }

  private async patchChunk(location: string, chunk: Buffer, offset: number, signal?: AbortSignal): Promise<string> {
    const operation = 'upload blob chunk';
    const res = await this.request({
      operation,
      method: 'PATCH',
      url: location,
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + chunk.length - 1}` },
      body: chunk,
      accept: [202, 416],
      signal,
    });
    await drain(res);
    if (res.status === 202) return this.uploadLocation(res, operation);
    // 416 after a retried PATCH: the first attempt may have landed although its answer was lost. Ask the session.
    const status = await this.request({ operation: 'blob upload status', method: 'GET', url: location, accept: [204], signal });
    await drain(status);
    if (status.headers.get('range') !== `0-${offset + chunk.length - 1}`) {
      throw new RegistryError(`${this.where(operation)} rejected the chunk at offset ${offset} (416)`, 'rejected', 416);
    }
    return this.uploadLocation(status, operation);
  }

  private async finishUpload(location: string, digest: string, body: Uint8Array | undefined, signal?: AbortSignal): Promise<void> {
    const url = new URL(location, this.baseUrl);
    url.searchParams.set('digest', digest);
    try {
      const res = await this.request({
        operation: 'finish blob upload',
        method: 'PUT',
        url: url.toString(),
        headers: { 'content-type': 'application/octet-stream' },
        body: body ?? new Uint8Array(0),
        accept: [201],
        signal,
      });
      await drain(res);
    } catch (err) {
      // A retried PUT whose first attempt committed the blob finds no session any more; the blob is what counts.
      if (!(err instanceof RegistryError && err.kind === 'rejected' && (await this.blobExists(digest, signal).catch(() => false)))) throw err;
    }
  }

  /** Best effort: a session left behind is garbage the registry purges eventually, but we do not leave it there. */
  private async cancelUpload(location: string): Promise<void> {
    await this.request({ operation: 'cancel blob upload', method: 'DELETE', url: location, accept: [200, 202, 204, 404] })
      .then(drain)
      .catch(() => undefined);
  }

  /**
   * Cancels a session a killed process left open, knowing only its path: DELETE needs the session's current state
   * token, and the session's status (GET, which needs none) hands it out in its Location. Best effort.
   */
  async cancelAbandonedUpload(path: string, signal?: AbortSignal): Promise<void> {
    if (!path.startsWith(`${this.repoPath}/blobs/uploads/`)) return;
    try {
      const status = await this.request({ operation: 'abandoned upload status', method: 'GET', url: path, accept: [204, 404], signal });
      await drain(status);
      if (status.status === 204) await this.cancelUpload(this.uploadLocation(status, 'abandoned upload status'));
    } catch {
      // The registry's upload purging removes what this could not.
    }
  }

  private uploadLocation(res: Response, operation: string): string {
    const location = res.headers.get('location');
    if (!location) throw new RegistryError(`${this.where(operation)}: the registry sent no upload Location`, 'rejected', res.status);
    // Relative to the URL that answered (RFC 9110), which is another origin when the session already moved there.
    const url = new URL(location, res.url || this.baseUrl);
    if (url.origin !== this.origin && !(url.protocol === 'https:' || (url.protocol === 'http:' && this.options.insecure))) {
      throw new RegistryError(
        `${this.where(operation)}: the registry sent the upload to ${url.protocol}//${url.host}; snapshot data goes to another host only over https`,
        'refused',
        res.status,
      );
    }
    return url.toString();
  }

  /** One logical request: retries transient failures, answers one auth challenge, maps unexpected statuses. */
  private async request(spec: RequestSpec): Promise<Response> {
    const res = await this.withRetries(spec.operation, spec.signal, () => this.sendAuthorized(spec));
    if (spec.accept.includes(res.status)) return res;
    const error = await readError(res);
    const detail = `${res.status}${error.code ? ` ${error.code}` : ''}${error.message ? `: ${error.message}` : ''}`;
    const kind: RegistryErrorKind =
      res.status === 401 ? 'unauthorized'
      : res.status === 403 ? 'denied'
      : res.status === 404 && error.code === 'NAME_UNKNOWN' ? 'repositoryNotFound'
      : res.status === 405 ? 'unsupported'
      : TRANSIENT_STATUSES.has(res.status) ? 'unavailable'
      : 'rejected';
    const at = this.isOwnOrigin(res.url || spec.url) ? '' : ` at ${originOf(res.url || spec.url, this.baseUrl)}`;
    throw new RegistryError(`${this.where(spec.operation)} failed${at} (${this.scrub(detail)})`, kind, res.status, error.code);
  }

  private async sendAuthorized(spec: RequestSpec): Promise<Response> {
    const used = this.authorization;
    const res = await this.send(spec, used);
    if (res.status !== 401) return res;
    await drain(res);
    // A challenge from another origin (an upload Location there, or where a redirect ended) is not ours to answer.
    const answeredBy = res.url || new URL(spec.url, this.baseUrl).toString();
    if (!this.isOwnOrigin(answeredBy)) {
      throw new RegistryError(
        `${this.where(spec.operation)}: ${originOf(answeredBy, this.baseUrl)} asks for credentials; they are sent only to ${this.origin}`,
        'refused',
        401,
      );
    }
    // Another request may have authenticated meanwhile; otherwise answer this challenge. Same answer = rejected.
    if (this.authorization === used) this.authorization = await this.authorize(res.headers.get('www-authenticate'), spec.signal);
    if (this.authorization === used) throw this.unauthorized('rejected the credentials');
    const retried = await this.send(spec, this.authorization);
    if (retried.status === 401) {
      await drain(retried);
      throw this.unauthorized(this.options.credentials ? 'rejected the credentials' : 'requires credentials and none are configured');
    }
    return retried;
  }

  /** The one place registry requests leave: Authorization only ever goes to the registry's own origin. */
  private send(spec: RequestSpec, authorization: string | undefined): Promise<Response> {
    const url = new URL(spec.url, this.baseUrl);
    const headers: Record<string, string> = { ...spec.headers };
    if (authorization && url.origin === this.origin) headers.authorization = authorization;
    // The limit runs until the answer's headers (a request body is sent by then); a body read afterwards (a blob
    // download) is watched by its consumer's stall timeout instead.
    const limitMs = (this.options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS) * (1 + Math.ceil((spec.body?.byteLength ?? 0) / 2 ** 20));
    const limit = new AbortController();
    const timer = setTimeout(() => limit.abort(new DOMException(`no answer within ${limitMs / 1000}s`, 'TimeoutError')), limitMs);
    const signal = spec.signal ? AbortSignal.any([spec.signal, limit.signal]) : limit.signal;
    return fetch(url, { method: spec.method, headers, body: spec.body, signal }).finally(() => clearTimeout(timer));
  }

  private isOwnOrigin(url: string): boolean {
    return URL.canParse(url, this.baseUrl) && new URL(url, this.baseUrl).origin === this.origin;
  }

  /**
   * The token endpoint of a Bearer challenge, or a refusal when the configured credentials must not go there.
   * The registry's `insecure` flag speaks for the registry's host only, so plain http is tolerated there alone.
   */
  private tokenUrl(realm: string, withCredentials: boolean): URL {
    const url = URL.canParse(realm) ? new URL(realm) : undefined;
    const named = url ? `${url.origin}${url.pathname}` : JSON.stringify(this.scrub(realm.slice(0, 200)));
    const refuse = (why: string): RegistryError =>
      new RegistryError(`registry ${this.options.registry} named the token realm ${named}; ${why} (repository ${this.options.repository})`, 'refused');
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) throw refuse('a token realm must be an http(s) URL');
    url.username = '';
    url.password = '';
    const registryHost = new URL(this.baseUrl).hostname;
    if (withCredentials && url.protocol === 'http:' && !(this.options.insecure && url.hostname === registryHost)) {
      throw refuse(
        this.options.insecure
          ? `credentials go to a plain-http token realm only on the registry's own host (${registryHost}); use https for the token service`
          : 'credentials go to a token realm only over https',
      );
    }
    return url;
  }

  /** Server text that becomes part of a message, without the credentials or token should the server echo them. */
  private scrub(text: string): string {
    const credentials = this.options.credentials;
    const secrets = [
      this.authorization?.replace(/^\S+\s+/, ''),
      credentials && Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64'),
      credentials?.password,
    ].filter((secret): secret is string => Boolean(secret && secret.length >= 4));
    return secrets.reduce((scrubbed, secret) => scrubbed.split(secret).join('[redacted]'), text);
  }

  private async authorize(header: string | null, signal?: AbortSignal): Promise<string> {
    const challenge = parseChallenge(header);
    const credentials = this.options.credentials;
    const basic = credentials && `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
    if (challenge?.scheme === 'basic') {
      if (!basic) throw this.unauthorized('requires credentials and none are configured');
      return basic;
    }
    if (challenge?.scheme !== 'bearer' || !challenge.params.realm) {
      throw this.unauthorized(`sent an authentication challenge this client does not support (${this.scrub((header ?? 'none').slice(0, 200))})`);
    }
    const tokenUrl = this.tokenUrl(challenge.params.realm, Boolean(basic));
    const realm = `${tokenUrl.origin}${tokenUrl.pathname}`;
    if (challenge.params.service) tokenUrl.searchParams.set('service', challenge.params.service);
    const scopes = new Set([...(challenge.params.scope?.split(' ') ?? []), `repository:${this.options.repository}:pull,push`]);
    for (const scope of scopes) tokenUrl.searchParams.append('scope', scope);
    const res = await this.withRetries('fetch registry token', signal, () =>
      fetch(tokenUrl, { headers: basic ? { authorization: basic } : {}, signal }),
    );
    if (res.status === 401 || res.status === 403) {
      await drain(res);
      throw this.unauthorized(`token service ${realm} refused the credentials (${res.status})`);
    }
    if (res.status !== 200) {
      await drain(res);
      throw new RegistryError(`${this.where('fetch registry token')} from ${realm} failed (${res.status})`, TRANSIENT_STATUSES.has(res.status) ? 'unavailable' : 'rejected', res.status);
    }
    const body = (await res.json().catch(() => ({}))) as { token?: unknown; access_token?: unknown };
    const token = body.token ?? body.access_token;
    // Visible ASCII only: anything else could not be a header value, and fetch's complaint would quote it.
    if (typeof token !== 'string' || !/^[\x21-\x7e]+$/.test(token)) {
      throw new RegistryError(`token service ${realm} answered without a usable token`, 'rejected', res.status);
    }
    return `Bearer ${token}`;
  }

  private async withRetries(operation: string, signal: AbortSignal | undefined, attempt: () => Promise<Response>): Promise<Response> {
    for (let n = 1; ; n++) {
      const delayMs = this.retry.initialDelayMs * 2 ** (n - 1) * (0.75 + Math.random() / 2);
      let res: Response;
      try {
        res = await attempt();
      } catch (err) {
        if (signal?.aborted || err instanceof RegistryError) throw err;
        if (n >= this.retry.attempts) {
          throw new RegistryError(`${this.where(operation)} failed: ${connectionErrorText(err)}`, 'unavailable', undefined, undefined, { cause: err });
        }
        await sleep(delayMs, undefined, { signal });
        continue;
      }
      if (!TRANSIENT_STATUSES.has(res.status) || n >= this.retry.attempts) return res;
      await drain(res);
      await sleep(Math.min(retryAfterMs(res) ?? delayMs, 10_000), undefined, { signal });
    }
  }

  private unauthorized(reason: string): RegistryError {
    return new RegistryError(`registry ${this.options.registry} ${reason} (repository ${this.options.repository})`, 'unauthorized', 401);
  }

  private where(operation: string): string {
    return `${operation} on ${this.options.registry}/${this.options.repository}`;
  }
}

export function sha256Digest(data: Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** `Bearer realm="...",service="...",scope="..."` -> scheme (lower-case) and parameters. */
export function parseChallenge(header: string | null): { scheme: string; params: Record<string, string> } | undefined {
  const match = header?.trim().match(/^(\S+)\s*(.*)$/);
  if (!match) return undefined;
  const params: Record<string, string> = {};
  for (const [, key, quoted, bare] of match[2].matchAll(/([A-Za-z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params[key.toLowerCase()] = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : bare;
  }
  return { scheme: match[1].toLowerCase(), params };
}

/** The `rel="next"` target of a Link header, e.g. `</v2/repo/tags/list?last=x&n=100>; rel="next"`. */
export function nextLink(header: string | null): string | undefined {
  for (const part of header?.split(',') ?? []) {
    const match = part.match(/<([^>]+)>\s*;\s*rel="?next"?/);
    if (match) return match[1];
  }
  return undefined;
}

/** scheme://host:port of a URL (relative ones resolved against `base`), for messages: no userinfo, path or query. */
function originOf(url: string, base: string): string {
  return URL.canParse(url, base) ? new URL(url, base).origin : 'an unparseable URL';
}

async function drain(res: Response): Promise<void> {
  await res.arrayBuffer().catch(() => undefined);
}

async function readError(res: Response): Promise<{ code?: string; message?: string }> {
  const text = await res.text().catch(() => '');
  try {
    const first = (JSON.parse(text) as { errors?: { code?: string; message?: string }[] }).errors?.[0];
    return { code: first?.code, message: first?.message };
  } catch {
    return { message: text.slice(0, 200) || undefined };
  }
}

function retryAfterMs(res: Response): number | undefined {
  const seconds = Number(res.headers.get('retry-after'));
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
}

function connectionErrorText(err: unknown): string {
  const cause = err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
  return [err instanceof Error ? err.message : String(err), cause?.code ?? cause?.message].filter(Boolean).join(': ');
}
