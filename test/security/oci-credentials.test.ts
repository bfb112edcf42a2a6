// Issue 17, "Credentials go only where they belong", for the OCI registry client (SPEC section 9): Authorization goes
// only to the configured registry's origin, Basic credentials to a token realm only over https (or plain http on the
// registry's own host when the repository is insecure), nothing is forwarded across origins by an upload Location, a
// tag-list Link or a redirect, and no error echoes a credential. Every claim is read off what real loopback hosts
// received: a hostile registry, token service or foreign host (test/security/support) records each request's headers.
// The happy paths run against the harness's real registries.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import { createStore } from '../../lib/storage';
import { RegistryClient, RegistryError, type RegistryErrorKind } from '../../lib/storage/oci-registry';
import { testEnv } from '../harness/env';
import { startTokenRegistryProxy } from '../integration/token-registry-proxy';
import {
  FOREIGN_ADDRESS,
  makeTestCertificate,
  startRecordingHost,
  trustInFetch,
  type Handler,
  type RecordingHost,
  type TestCertificate,
} from './support/recording-hosts';

const USERNAME = 'robot';
const PASSWORD = 'pw-9f3Kq2-never-echo';
const CREDENTIALS = { username: USERNAME, password: PASSWORD };
const BASIC = `Basic ${Buffer.from(`${USERNAME}:${PASSWORD}`).toString('base64')}`;
const TOKEN = `tok-${randomBytes(12).toString('hex')}`;
const REPOSITORY = 'team/app';
const FAST_RETRY = { attempts: 2, initialDelayMs: 10 };

const unique = (prefix: string): string => `${prefix}-${randomBytes(4).toString('hex')}`;
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

/** True when `req` carries the test credentials; otherwise answers the Basic challenge. */
function basicGate(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.headers.authorization === BASIC) return true;
  json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }, { 'www-authenticate': 'Basic realm="registry"' });
  return false;
}

/** Answers a Bearer challenge naming `realm` unless `req` carries the test token. */
function bearerGate(req: IncomingMessage, res: ServerResponse, realm: string): boolean {
  if (req.headers.authorization === `Bearer ${TOKEN}`) return true;
  json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'token required' }] }, { 'www-authenticate': `Bearer realm="${realm}",service="registry"` });
  return false;
}

/** A token service that hands out TOKEN, to anyone (it records who asked and with what). */
const tokenService: Handler = (_req, res) => json(res, 200, { token: TOKEN });

function authorizations(host: RecordingHost): (string | undefined)[] {
  return host.requests.map((r) => r.headers.authorization);
}

/** A RegistryError (straight from the client) of `kind` whose message matches `pattern` and echoes no credential. */
function registryError(kind: RegistryErrorKind, pattern: RegExp) {
  return (err: unknown): true => {
    assert.ok(err instanceof RegistryError, `expected a RegistryError, got ${String(err)}`);
    assert.equal(err.kind, kind);
    assert.match(err.message, pattern);
    assertNoCredentials(err.message);
    return true;
  };
}

/** What the store makes of a refusal: a non-retryable StorageBadConfiguration whose message echoes no credential. */
function badConfiguration(pattern: RegExp) {
  return (err: unknown): true => {
    assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
    assert.equal(err.type, 'StorageBadConfiguration');
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, pattern);
    assertNoCredentials(err.message);
    return true;
  };
}

function assertNoCredentials(message: string): void {
  for (const secret of [PASSWORD, BASIC.slice('Basic '.length), TOKEN]) assert.ok(!message.includes(secret), `the message echoes a credential: ${message}`);
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('security: OCI registry credentials go only to the registry (issue 17)', () => {
  const hosts: RecordingHost[] = [];
  const start = async (handler: Handler, opts?: Parameters<typeof startRecordingHost>[1]): Promise<RecordingHost> => {
    const host = await startRecordingHost(handler, opts);
    hosts.push(host);
    return host;
  };
  afterEach(async () => {
    await Promise.all(hosts.splice(0).map((host) => host.close()));
  });

  describe('happy paths on the real registries', () => {
    const roundTrip = async (registry: string, credentials?: typeof CREDENTIALS): Promise<void> => {
      const store = createStore({ type: 'oci', registry, repository: `vcsnap-test/${unique('sec')}`, insecure: true }, credentials);
      const data = randomBytes(200_000);
      const stored = await store.putArchive('demo-1', Readable.from([data]));
      assert.equal(stored.sha256, sha256(data));
      assert.equal(sha256(await readAll(await store.getArchive('demo-1'))), sha256(data));
      assert.deepEqual((await store.listArchives()).map((l) => l.snapshotName), ['demo-1']);
    };

    it('an open insecure registry: pushes and pulls anonymously', async () => {
      await roundTrip(testEnv().registry.host);
    });

    it('the htpasswd registry: pushes and pulls with Basic credentials', async () => {
      const { host, username, password } = testEnv().authRegistry;
      await roundTrip(host, { username, password });
    });

    it('a Bearer token from a plain-http realm on the insecure registry\'s own host: pushes and pulls', async () => {
      const proxy = await startTokenRegistryProxy({ upstream: testEnv().registry.host, ...CREDENTIALS, tagsPageSize: 1 });
      try {
        await roundTrip(proxy.host, CREDENTIALS);
        assert.ok(proxy.tokenRequests.length > 0);
        assert.ok(proxy.tokenRequests.every((r) => r.basicAuth), 'the realm got the Basic credentials');
      } finally {
        await proxy.close();
      }
    });
  });

  describe('token realms', () => {
    it('refuses to send Basic credentials to a plain-http realm on another host: the realm receives nothing', async () => {
      const realm = await start(tokenService, { address: FOREIGN_ADDRESS });
      const realmUrl = `${realm.origin}/token`;
      const registry = await start((req, res) => {
        if (bearerGate(req, res, realmUrl)) json(res, 200, { tags: [] });
      });
      const store = createStore({ type: 'oci', registry: registry.host, repository: REPOSITORY, insecure: true }, CREDENTIALS);
      await assert.rejects(store.listArchives(), badConfiguration(new RegExp(`token realm ${escape(realmUrl)}.*registry's own host`)));
      assert.deepEqual(realm.requests, [], 'the realm received no request');
      assert.deepEqual(authorizations(registry), [undefined], 'the registry only got the unauthenticated first try');
    });

    it('an anonymous client may take a token from such a realm: the realm gets no Authorization, the token goes to the registry only', async () => {
      const realm = await start(tokenService, { address: FOREIGN_ADDRESS });
      const registry = await start((req, res) => {
        if (bearerGate(req, res, `${realm.origin}/token`)) json(res, 200, { tags: ['a'] });
      });
      const client = new RegistryClient({ registry: registry.host, repository: REPOSITORY, insecure: true, retry: FAST_RETRY });
      assert.deepEqual(await client.listTags(), ['a']);
      assert.deepEqual(authorizations(realm), [undefined]);
      assert.deepEqual(authorizations(registry), [undefined, `Bearer ${TOKEN}`]);
    });

    describe('over TLS', () => {
      let certificate: TestCertificate;
      let untrust: () => Promise<void>;
      before(() => {
        certificate = makeTestCertificate();
        untrust = trustInFetch(certificate.ca);
      });
      after(async () => {
        await untrust();
      });

      it('refuses a plain-http realm even on the registry\'s own host when the repository is not insecure', async () => {
        const realm = await start(tokenService);
        const realmUrl = `${realm.origin}/token`;
        const registry = await start(
          (req, res) => {
            if (bearerGate(req, res, realmUrl)) json(res, 200, {});
          },
          { tls: certificate },
        );
        const client = new RegistryClient({ registry: registry.host, repository: REPOSITORY, credentials: CREDENTIALS, retry: FAST_RETRY });
        await assert.rejects(client.ping(), registryError('refused', new RegExp(`token realm ${escape(realmUrl)}.*only over https`)));
        assert.deepEqual(realm.requests, []);
      });

      it('sends Basic credentials to an https realm on another host, and the Bearer token to the registry alone', async () => {
        const realm = await start(tokenService, { address: FOREIGN_ADDRESS, tls: certificate });
        const registry = await start(
          (req, res) => {
            if (bearerGate(req, res, `${realm.origin}/token`)) json(res, 200, req.url?.includes('/tags/list') ? { tags: ['a', 'b'] } : {});
          },
          { tls: certificate },
        );
        const client = new RegistryClient({ registry: registry.host, repository: REPOSITORY, credentials: CREDENTIALS, retry: FAST_RETRY });
        await client.ping();
        assert.deepEqual(await client.listTags(), ['a', 'b']);
        assert.deepEqual(authorizations(realm), [BASIC], 'one token request, Basic-authenticated');
        assert.deepEqual(authorizations(registry), [undefined, `Bearer ${TOKEN}`, `Bearer ${TOKEN}`], 'the registry never saw the Basic credentials');
      });

      it('refuses an upload Location that would move snapshot bytes from an https registry to plain http elsewhere', async () => {
        const foreign = await start((_req, res) => json(res, 202, {}), { address: FOREIGN_ADDRESS });
        const registry = await start(
          (req, res) => {
            if (!basicGate(req, res)) return;
            if (req.method === 'POST') return json(res, 202, {}, { location: `${foreign.origin}/upload/1` });
            json(res, 200, {});
          },
          { tls: certificate },
        );
        const client = new RegistryClient({ registry: registry.host, repository: REPOSITORY, credentials: CREDENTIALS, retry: FAST_RETRY });
        await assert.rejects(
          client.pushBlobStream(Readable.from([randomBytes(1000)])),
          registryError('refused', new RegExp(`upload to ${escape(foreign.origin)}.*only over https`)),
        );
        assert.deepEqual(foreign.requests, []);
      });
    });
  });

  describe('upload Locations on another origin', () => {
    /** A Basic-auth registry that hands every upload session to `uploadOrigin`, and accepts manifests. */
    const handingOffRegistry =
      (uploadOrigin: () => string): Handler =>
      (req, res) => {
        if (!basicGate(req, res)) return;
        if (req.method === 'HEAD' && req.url?.includes('/blobs/')) return void res.writeHead(404).end();
        if (req.method === 'POST' && req.url?.endsWith('/blobs/uploads/')) {
          return json(res, 202, {}, { location: `${uploadOrigin()}/upload/${randomBytes(4).toString('hex')}?_state=s0` });
        }
        if (req.method === 'PUT' && req.url?.includes('/manifests/')) return json(res, 201, {});
        // No tag exists yet (the store checks before it writes one).
        if (req.method === 'GET' && req.url?.includes('/manifests/')) return json(res, 404, { errors: [{ code: 'MANIFEST_UNKNOWN' }] });
        json(res, 200, {});
      };

    it('follows it without Authorization: the foreign host stores the blob and never sees a credential', async () => {
      const received = new Map<string, Buffer>();
      const foreign = await start(
        (req, res, body) => {
          const path = new URL(req.url ?? '/', 'http://x').pathname;
          if (req.method === 'PATCH') {
            received.set(path, Buffer.concat([received.get(path) ?? Buffer.alloc(0), body]));
            return json(res, 202, {}, { location: `${path}?_state=s1` }); // relative: stays on this host
          }
          if (req.method === 'PUT') return json(res, 201, {});
          json(res, 404, {});
        },
        { address: FOREIGN_ADDRESS },
      );
      const registry = await start(handingOffRegistry(() => foreign.origin));
      const store = createStore({ type: 'oci', registry: registry.host, repository: REPOSITORY, insecure: true }, CREDENTIALS);
      const data = randomBytes(100_000);
      const stored = await store.putArchive('demo-1', Readable.from([data]));

      assert.equal(stored.sha256, sha256(data));
      assert.ok([...received.values()].some((blob) => blob.equals(data)), 'the snapshot bytes went to the upload host');
      assert.ok(foreign.requests.some((r) => r.method === 'PUT'), 'uploads were finished there');
      assert.deepEqual(authorizations(foreign).filter(Boolean), [], 'no request to the foreign host carried Authorization');
      assert.deepEqual(authorizations(registry).slice(1), authorizations(registry).slice(1).map(() => BASIC), 'the registry got the credentials');
    });

    it('does not answer a challenge from the foreign upload host, even one pointing at the registry\'s own realm', async () => {
      let registryHost = '';
      const foreign = await start(
        (_req, res) =>
          json(res, 401, { errors: [{ code: 'UNAUTHORIZED' }] }, { 'www-authenticate': `Bearer realm="http://${registryHost}/token",service="registry"` }),
        { address: FOREIGN_ADDRESS },
      );
      const registry = await start(handingOffRegistry(() => foreign.origin));
      registryHost = registry.host;
      const store = createStore({ type: 'oci', registry: registry.host, repository: REPOSITORY, insecure: true }, CREDENTIALS);
      await assert.rejects(
        store.putArchive('demo-1', Readable.from([randomBytes(1000)])),
        badConfiguration(new RegExp(`${escape(foreign.origin)} asks for credentials; they are sent only to ${escape(registry.origin)}`)),
      );
      assert.ok(foreign.requests.length > 0);
      assert.deepEqual(authorizations(foreign).filter(Boolean), []);
      assert.ok(!registry.requests.some((r) => r.url.startsWith('/token')), 'no token was fetched for the foreign host');
    });
  });

  describe('redirects', () => {
    it('a blob download redirected to another origin carries no Authorization, and that origin\'s challenge is not answered', async () => {
      const data = randomBytes(5000);
      let challenge = false;
      const foreign = await start(
        (_req, res) => {
          if (challenge) return json(res, 401, {}, { 'www-authenticate': 'Basic realm="cdn"' });
          res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(data);
        },
        { address: FOREIGN_ADDRESS },
      );
      const registry = await start((req, res) => {
        if (!basicGate(req, res)) return;
        res.writeHead(307, { location: `${foreign.origin}/signed/blob?sig=1` }).end();
      });
      const client = new RegistryClient({ registry: registry.host, repository: REPOSITORY, insecure: true, credentials: CREDENTIALS, retry: FAST_RETRY });
      const digest = `sha256:${sha256(data)}`;
      assert.ok((await readAll(await client.pullBlob(digest))).equals(data));

      challenge = true;
      await assert.rejects(client.pullBlob(digest), registryError('refused', new RegExp(`${escape(foreign.origin)} asks for credentials`)));
      assert.equal(foreign.requests.length, 2);
      assert.deepEqual(authorizations(foreign), [undefined, undefined]);
      assert.deepEqual(authorizations(registry), [undefined, BASIC, BASIC]);
    });
  });

  describe('tag list Links', () => {
    it('follows a Link on the registry\'s origin with the credentials, and refuses one to another origin: that host receives nothing', async () => {
      const foreign = await start((_req, res) => json(res, 200, { tags: ['planted'] }), { address: FOREIGN_ADDRESS });
      let nextPage = '';
      const registry = await start((req, res) => {
        if (!basicGate(req, res)) return;
        if (req.url?.includes('last=a')) return json(res, 200, { tags: ['b'] });
        json(res, 200, { tags: ['a'] }, nextPage ? { link: `<${nextPage}>; rel="next"` } : {});
      });
      const client = new RegistryClient({ registry: registry.host, repository: REPOSITORY, insecure: true, credentials: CREDENTIALS, retry: FAST_RETRY });

      nextPage = `/v2/${REPOSITORY}/tags/list?last=a&n=1`;
      assert.deepEqual(await client.listTags(), ['a', 'b']);
      assert.deepEqual(authorizations(registry), [undefined, BASIC, BASIC]);

      nextPage = `${foreign.origin}/v2/${REPOSITORY}/tags/list?last=a&n=1`;
      await assert.rejects(client.listTags(), registryError('refused', new RegExp(`Link points to ${escape(foreign.origin)}; pages are read only from`)));
      assert.deepEqual(foreign.requests, []);
    });
  });

  describe('errors', () => {
    it('never echo the credentials or the token, even when a registry echoes them back', async () => {
      const echo = (req: IncomingMessage, res: ServerResponse): void => {
        const sent = req.headers.authorization ?? '';
        const decoded = sent.startsWith('Basic ') ? Buffer.from(sent.slice(6), 'base64').toString() : '';
        json(res, 400, { errors: [{ code: 'DENIED_ECHO', message: `you sent ${sent} (${decoded})` }] });
      };
      const basicRegistry = await start((req, res) => {
        if (basicGate(req, res)) echo(req, res);
      });
      let bearerHost = '';
      const bearerRegistry = await start((req, res) => {
        if (req.url?.startsWith('/token')) return tokenService(req, res, Buffer.alloc(0));
        if (bearerGate(req, res, `http://${bearerHost}/token`)) echo(req, res);
      });
      bearerHost = bearerRegistry.host;

      for (const registry of [basicRegistry, bearerRegistry]) {
        const store = createStore({ type: 'oci', registry: registry.host, repository: REPOSITORY, insecure: true }, CREDENTIALS);
        await assert.rejects(store.listArchives(), registryError('rejected', /failed \(400 DENIED_ECHO: you sent \S+ \[redacted\]/));
      }
      assert.ok(authorizations(bearerRegistry).includes(`Bearer ${TOKEN}`), 'the bearer registry did get the token to echo');
    });

    it('a token service that answers an unusable token is refused without quoting it', async () => {
      const bad = 'tok\r\nx-injected: 1';
      let host = '';
      const registry = await start((req, res) => {
        if (req.url?.startsWith('/token')) return json(res, 200, { token: bad });
        json(res, 401, {}, { 'www-authenticate': `Bearer realm="http://${host}/token"` });
      });
      host = registry.host;
      const client = new RegistryClient({ registry: registry.host, repository: REPOSITORY, insecure: true, credentials: CREDENTIALS, retry: FAST_RETRY });
      await assert.rejects(client.ping(), (err: unknown) => {
        registryError('rejected', /answered without a usable token/)(err);
        assert.ok(!(err as Error).message.includes('x-injected'));
        return true;
      });
    });
  });
});
