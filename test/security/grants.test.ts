// Tenant isolation of Secret references (SPEC 9, issue 17): a virtual cluster's config reaches only its own
// namespace's Secrets, the operator's shared namespaces, and Secrets that grant themselves to it. Played as a
// hostile tenant would; the proof of each refusal is the kube-apiserver's audit log (no read of the Secret) and the
// storage (nothing written), not only the run's own reason.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import * as k8s from '@kubernetes/client-node';
import { WorkflowFailedError } from '@temporalio/client';
import { restoreSnapshot, verifySnapshot } from '../../client/restore';
import type { SnapshotPolicy, SnapshotStatusView } from '../../contracts/definitions';
import { ENDPOINTS_ANNOTATION, GRANT_ANNOTATION, GRANT_LABEL } from '../../lib/kube/secrets';
import { snapshotWorkflow } from '../../workflows';
import { testEnv } from '../harness/env';
import { basePolicy, uniqueName } from '../harness/fixtures';
import { adminKube, startTestWorker, type TestWorker } from '../harness/temporal';
import { FOREIGN_ADDRESS, startRecordingHost } from './support/recording-hosts';

interface AuditEvent {
  verb: string;
  requestURI: string;
  objectRef?: { resource?: string; namespace?: string; name?: string };
}

/** What the API server recorded about Secret `namespace/name`: reads by name, and lists that could return it. */
function secretReads(namespace: string, name: string): AuditEvent[] {
  const events = readFileSync(testEnv().kube.auditLogFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AuditEvent);
  return events.filter(
    (e) =>
      e.objectRef?.resource === 'secrets' &&
      e.objectRef.namespace === namespace &&
      ((e.verb === 'get' && e.objectRef.name === name) ||
        // A list returns this Secret unless a label selector only grants can match restricts it.
        (e.verb === 'list' && !decodeURIComponent(e.requestURI).includes(`labelSelector=${GRANT_LABEL}=true`))),
  );
}

describe('security: Secret references stay within the tenant (audit log proof)', function () {
  this.timeout(120_000);
  const core = () => adminKube().makeApiClient(k8s.CoreV1Api);
  const s3 = () => {
    const { minio } = testEnv();
    return new S3Client({ endpoint: minio.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey } });
  };
  let worker: TestWorker;
  let sharedWorker: TestWorker;
  const teamA = uniqueName('team-a');
  const teamB = uniqueName('team-b');
  const platform = uniqueName('platform');

  before(async () => {
    for (const namespace of [teamA, teamB, platform]) await core().createNamespace({ body: { metadata: { name: namespace } } });
    worker = await startTestWorker();
    // The operator shares every `platform-*` namespace with all clusters.
    sharedWorker = await startTestWorker({ sharedNamespaces: ['platform-*'] });
  });
  after(async () => {
    await worker?.stop();
    await sharedWorker?.stop();
  });

  /** MinIO's credentials in `namespace/name`; `grant`: the namespaces it grants itself to; `endpoints`: its pin. */
  async function storageSecret(namespace: string, name: string, grant?: string, endpoints = new URL(testEnv().minio.endpoint).host): Promise<void> {
    const { minio } = testEnv();
    const annotations = { ...(endpoints && { [ENDPOINTS_ANNOTATION]: endpoints }), ...(grant !== undefined && { [GRANT_ANNOTATION]: grant }) };
    await core().createNamespacedSecret({
      namespace,
      body: {
        metadata: { name, annotations, ...(grant !== undefined && { labels: { [GRANT_LABEL]: 'true' } }) },
        stringData: { AWS_ACCESS_KEY_ID: minio.accessKeyId, AWS_SECRET_ACCESS_KEY: minio.secretAccessKey },
      },
    });
  }

  async function bucket(): Promise<string> {
    const name = uniqueName('grants');
    await s3().send(new CreateBucketCommand({ Bucket: name }));
    return name;
  }

  /** team-a's cluster, storing in `bucketName` with the credential Secret `credential`. */
  function teamAPolicy(bucketName: string, credential: { name: string; namespace: string }): SnapshotPolicy {
    const { minio } = testEnv();
    return basePolicy(
      { type: 's3', bucket: bucketName, prefix: '', endpoint: minio.endpoint, forcePathStyle: true, insecureSkipTlsVerify: false, skipClientCredentials: false, credential },
      { cluster: { name: uniqueName('vc'), namespace: teamA } },
    );
  }

  async function run(w: TestWorker, policy: SnapshotPolicy): Promise<SnapshotStatusView> {
    return w.client.workflow.execute(snapshotWorkflow, { taskQueue: w.taskQueue, workflowId: uniqueName('grants'), args: [{ policy, nominalTime: '2026-11-23T12:00:00Z' }] });
  }

  /** The run failed with a reason matching `pattern`. */
  function refusedWith(pattern: RegExp) {
    return (err: unknown) => err instanceof WorkflowFailedError && pattern.test(String(err.cause?.message));
  }

  async function objectsIn(bucketName: string): Promise<string[]> {
    return ((await s3().send(new ListObjectsV2Command({ Bucket: bucketName }))).Contents ?? []).map((o) => o.Key ?? '');
  }

  it("refuses team-b's Secret for team-a's cluster: Failed with how to grant it, never read, nothing written", async () => {
    const secretName = uniqueName('creds');
    await storageSecret(teamB, secretName);
    const target = await bucket();
    await assert.rejects(run(worker, teamAPolicy(target, { name: secretName, namespace: teamB })), (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError);
      const message = String(err.cause?.message);
      assert.match(message, new RegExp(`Secret ${teamB}/${secretName} is not granted to virtual clusters in namespace ${teamA}`));
      assert.match(message, new RegExp(`${GRANT_LABEL}=true and the annotation ${GRANT_ANNOTATION}`));
      return true;
    });
    assert.deepEqual(secretReads(teamB, secretName), [], 'the API server saw no read of the ungranted Secret');
    assert.deepEqual(await objectsIn(target), [], 'nothing written: not even the Failed record (its store needs the credential)');
  });

  it('a grant for other namespaces only does not open the Secret to team-a', async () => {
    const secretName = uniqueName('creds');
    await storageSecret(teamB, secretName, 'team-c, other-*');
    await assert.rejects(run(worker, teamAPolicy(await bucket(), { name: secretName, namespace: teamB })), refusedWith(/is not granted to virtual clusters in namespace/));
  });

  it('a Secret that grants itself to team-a (glob) works end to end', async () => {
    const secretName = uniqueName('creds');
    await storageSecret(teamB, secretName, `unrelated, ${teamA.replace(/-[^-]+$/, '-*')}`);
    const target = await bucket();
    const view = await run(worker, teamAPolicy(target, { name: secretName, namespace: teamB }));
    assert.equal(view.status, 'Completed', view.error);
    assert.equal((await objectsIn(target)).length, 2, 'archive and record');
  });

  it("the operator's shared namespaces (VCSNAP_SHARED_NAMESPACES) work without a grant; elsewhere they are refused", async () => {
    const secretName = uniqueName('creds');
    await storageSecret(platform, secretName);
    const view = await run(sharedWorker, teamAPolicy(await bucket(), { name: secretName, namespace: platform }));
    assert.equal(view.status, 'Completed', view.error);
    await assert.rejects(run(worker, teamAPolicy(await bucket(), { name: secretName, namespace: platform })), refusedWith(/is not granted/));
  });

  it('a credential from outside the namespace must say where it may be sent: an unpinned one is refused', async () => {
    const secretName = uniqueName('creds');
    await storageSecret(teamB, secretName, teamA, '');
    const target = await bucket();
    await assert.rejects(
      run(worker, teamAPolicy(target, { name: secretName, namespace: teamB })),
      refusedWith(new RegExp(`Secret ${teamB}/${secretName} is used from outside its namespace but does not say where it may be sent; add the annotation ${ENDPOINTS_ANNOTATION}`)),
    );
    assert.deepEqual(await objectsIn(target), []);
    // The cluster's own Secrets need no pin: they are the tenant's to send where it likes.
    const own = uniqueName('creds');
    await storageSecret(teamA, own, undefined, '');
    assert.equal((await run(worker, teamAPolicy(await bucket(), { name: own, namespace: teamA }))).status, 'Completed');
  });

  it("a granted registry credential paired with another host is refused: that host receives nothing", async () => {
    const foreign = await startRecordingHost((_req, res) => res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' }).end(), { address: FOREIGN_ADDRESS });
    try {
      const secretName = uniqueName('registry-creds');
      await core().createNamespacedSecret({
        namespace: platform,
        body: {
          metadata: { name: secretName, labels: { [GRANT_LABEL]: 'true' }, annotations: { [GRANT_ANNOTATION]: teamA, [ENDPOINTS_ANNOTATION]: testEnv().registry.host } },
          stringData: { username: 'platform', password: 'p-platform-registry' },
        },
      });
      const policy = basePolicy(
        { type: 'oci', registry: foreign.host, repository: 'steal/it', insecure: true, credential: { name: secretName, namespace: platform } },
        { cluster: { name: uniqueName('vc'), namespace: teamA } },
      );
      await assert.rejects(run(worker, policy), refusedWith(new RegExp(`may be sent only to ${testEnv().registry.host} \\(annotation ${ENDPOINTS_ANNOTATION}\\), not to ${foreign.host}`)));
      assert.deepEqual(foreign.requests, [], 'the foreign host saw no request at all');
    } finally {
      await foreign.close();
    }
  });

  it("a restore naming team-a's cluster cannot write into an etcd Service of team-b: refused before it connects", async () => {
    const own = uniqueName('creds');
    await storageSecret(teamA, own);
    const policy = teamAPolicy(await bucket(), { name: own, namespace: teamA });
    const view = await run(worker, policy);
    assert.equal(view.status, 'Completed', view.error);
    const snapshot = { storage: policy.storage, snapshotName: view.snapshotName!, cluster: policy.cluster };
    const target = { client: worker.client, taskQueue: worker.taskQueue };
    await assert.rejects(restoreSnapshot(target, snapshot, { endpoints: [`https://vc-etcd.${teamB}:2379`] }), (err: unknown) => {
      assert.match(String((err as Error).message), new RegExp(`restore target: etcd endpoint vc-etcd.${teamB} is a Service in namespace ${teamB}, outside the cluster's namespace ${teamA}`));
      return true;
    });
  });

  it('a client-started verify naming no cluster cannot borrow a Secret: refused, never read', async () => {
    const secretName = uniqueName('registry-creds');
    await core().createNamespacedSecret({ namespace: teamB, body: { metadata: { name: secretName }, stringData: { username: 'u', password: 'p-team-b' } } });
    const target = { client: worker.client, taskQueue: worker.taskQueue };
    await assert.rejects(verifySnapshot(target, `oci://${testEnv().registry.host}/evil/x:t`, { credential: { name: secretName, namespace: teamB } }), (err: unknown) => {
      assert.match(String((err as Error).message), new RegExp(`Secret ${teamB}/${secretName} is not granted to a request that names no virtual cluster`));
      return true;
    });
    assert.deepEqual(secretReads(teamB, secretName), []);
  });
});
