// The three storage backends as the worker-crash test sees them: a policy whose uploads go through a throttling
// proxy, what an unfinished upload leaves in the backend, and the check that a finished run left exactly one archive
// (with its record, whose digest is that of the stored bytes) and nothing unfinished.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createStore } from '../../../lib/storage';
import { RegistryClient } from '../../../lib/storage/oci-registry';
import type { SnapshotPolicy, SnapshotRecord, StateSource } from '../../../contracts/definitions';
import { testEnv } from '../../harness/env';
import { basePolicy, uniqueName } from '../../harness/fixtures';
import { createBucket, credentialSecret, getObject, listKeys, openUploadSessions, pendingMultipartUploads, repositoryDir, sizeIfPresent } from './fixtures';
import type { TcpProxy } from './tcp-proxy';

export interface CrashTarget {
  label: string;
  policy: SnapshotPolicy;
  /** What an unfinished upload holds in the backend (0 = nothing), e.g. `2 part(s)`; for the log and the kill. */
  unfinished(snapshotName: string): Promise<{ amount: number; text: string }>;
  /** Exactly the archive and its record, the recorded digest that of the stored bytes, nothing unfinished. */
  assertFinished(snapshotName: string): Promise<void>;
}

type Throttled = (upstream: string) => Promise<TcpProxy>;
const MiB = 2 ** 20;
const mib = (bytes: number) => `${(bytes / MiB).toFixed(0)} MiB`;

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function assertRecordOf(record: SnapshotRecord | undefined, archive: Buffer): void {
  assert.equal(record?.status, 'Completed');
  assert.equal(record?.sha256, sha256(archive));
  assert.equal(record?.bytes, archive.length);
}

/** MinIO (the harness's) behind `throttled`; an unfinished upload is a pending multipart upload with parts. */
export async function s3Target(state: StateSource, throttled: Throttled): Promise<CrashTarget> {
  const minio = testEnv().minio;
  const bucket = await createBucket(minio);
  const proxy = await throttled(new URL(minio.endpoint).host);
  const credential = await credentialSecret({ AWS_ACCESS_KEY_ID: minio.accessKeyId, AWS_SECRET_ACCESS_KEY: minio.secretAccessKey });
  const policy = basePolicy(
    { type: 's3', bucket, prefix: 'snaps', endpoint: `http://${proxy.host}`, region: 'us-east-1', forcePathStyle: true, insecureSkipTlsVerify: false, skipClientCredentials: false, credential },
    { state },
  );
  return {
    label: 'S3',
    policy,
    async unfinished(name) {
      const parts = (await pendingMultipartUploads(minio, bucket)).filter((u) => u.key === `snaps/${name}.tar.gz`).reduce((sum, u) => sum + u.parts, 0);
      return { amount: parts, text: `${parts} multipart part(s)` };
    },
    async assertFinished(name) {
      assert.deepEqual(await listKeys(minio, bucket), [`snaps/${name}.json`, `snaps/${name}.tar.gz`]);
      const record = JSON.parse((await getObject(minio, bucket, `snaps/${name}.json`)).toString('utf8')) as SnapshotRecord;
      assertRecordOf(record, await getObject(minio, bucket, `snaps/${name}.tar.gz`));
      assert.deepEqual(await pendingMultipartUploads(minio, bucket), []);
    },
  };
}

/** The harness's basic-auth registry behind `throttled`; an unfinished upload is an open blob upload session. */
export async function ociTarget(state: StateSource, throttled: Throttled): Promise<CrashTarget> {
  const { host, username, password } = testEnv().authRegistry;
  const repository = `faults/${uniqueName('crash')}`;
  const proxy = await throttled(host);
  const credential = await credentialSecret({ username, password });
  const policy = basePolicy({ type: 'oci', registry: proxy.host, repository, insecure: true, credential }, { state });
  const sessionsDir = repositoryDir(join(testEnv().runDir, 'registry-auth', 'storage'), repository);
  return {
    label: 'OCI',
    policy,
    async unfinished() {
      const bytes = openUploadSessions(sessionsDir).reduce((sum, session) => sum + session.bytes, 0);
      return { amount: bytes, text: `${mib(bytes)} in the registry's upload session` };
    },
    async assertFinished(name) {
      const credentials = { username, password };
      assert.deepEqual((await new RegistryClient({ registry: host, repository, insecure: true, credentials }).listTags()).sort(), [name, `${name}.meta`]);
      const store = createStore({ type: 'oci', registry: host, repository, insecure: true }, credentials);
      assertRecordOf(await store.getRecord(name), Buffer.concat(await (await store.getArchive(name)).toArray()));
      assert.deepEqual(openUploadSessions(sessionsDir), []);
    },
  };
}

/** A directory, its etcd behind `throttled` (a local disk is never slow); an unfinished upload is a partial file. */
export async function fileTarget(state: StateSource, throttled: Throttled): Promise<CrashTarget> {
  const proxy = await throttled(new URL(state.endpoints[0]).host);
  const dir = join(testEnv().runDir, 'file-store', uniqueName('crash'));
  const policy = basePolicy({ type: 'container', path: dir }, { state: { ...state, endpoints: [`http://${proxy.host}`] } });
  const files = () => (existsSync(dir) ? readdirSync(dir) : []);
  return {
    label: 'directory',
    policy,
    async unfinished(name) {
      // Only the archive's partial file: the owner file's lives for a moment and may be renamed between list and stat.
      const partials = files().filter((file) => file.startsWith(`.${name}.tar.gz.partial-`));
      const bytes = partials.reduce((sum, file) => sum + (sizeIfPresent(join(dir, file)) ?? 0), 0);
      return { amount: bytes, text: `${mib(bytes)} in a partial file` };
    },
    async assertFinished(name) {
      assert.deepEqual(files().sort(), [`.${name}.tar.gz.owner`, `${name}.json`, `${name}.tar.gz`]);
      assertRecordOf(JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as SnapshotRecord, readFileSync(join(dir, `${name}.tar.gz`)));
    },
  };
}
