// Fault 4: a registry that answers 503 to one request in three. The chain is the product -> a flaky proxy (every
// third request answered 503) -> the integration tests' Bearer-token registry proxy -> the real registry, so the
// token flow, the chunked blob upload and the manifest pushes all meet the failures. The push must succeed on the
// OCI client's own retries, byte for byte, leaving no upload session open.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { createStore } from '../../lib/storage';
import { startEtcd, type EtcdServer } from '../../scripts/servers/etcd';
import type { OciLocation } from '../../contracts/definitions';
import { snapshotWorkflow } from '../../workflows';
import { testEnv } from '../harness/env';
import { basePolicy, uniqueName } from '../harness/fixtures';
import { startTestWorker, type TestWorker } from '../harness/temporal';
import { startTokenRegistryProxy, type TokenRegistryProxy } from '../integration/token-registry-proxy';
import { credentialSecret, fillEtcd, openUploadSessions, repositoryDir } from './support/fixtures';
import { startFlakyHttpProxy, type FlakyHttpProxy } from './support/flaky-http-proxy';
import { activityOutcomes } from './support/history';

const TOKEN_USER = { username: 'robot', password: 'faults-token-pw-7Qx2' };

describe('fault: registry answering 5xx to one request in three', function () {
  this.timeout(120_000);
  let worker: TestWorker;
  let etcd: EtcdServer;
  let tokenProxy: TokenRegistryProxy;
  let flaky: FlakyHttpProxy;

  before(async () => {
    etcd = await startEtcd({ dir: join(testEnv().runDir, 'faults', 'registry-5xx'), name: 'flaky-registry-etcd' });
    // 24 MB of incompressible values: three 8 MB chunks of the blob upload.
    await fillEtcd(etcd.endpoint, 2000, 12 * 1024);
    tokenProxy = await startTokenRegistryProxy({ upstream: testEnv().registry.host, ...TOKEN_USER });
    flaky = await startFlakyHttpProxy({ upstream: tokenProxy.host, failEvery: 3 });
    worker = await startTestWorker();
  });
  after(async () => {
    await worker?.stop();
    await flaky?.close();
    await tokenProxy?.close();
    await etcd?.stop();
  });

  it('pushes the snapshot anyway: Completed in one activity attempt, digest matches, no upload session left', async () => {
    const repository = `faults/${uniqueName('flaky')}`;
    const storage: OciLocation = { type: 'oci', registry: flaky.host, repository, insecure: true, credential: await credentialSecret(TOKEN_USER) };
    const policy = basePolicy(storage, { state: { endpoints: [etcd.endpoint], origin: 'explicit' } });
    const handle = await worker.client.workflow.start(snapshotWorkflow, { taskQueue: worker.taskQueue, workflowId: uniqueName('flaky'), args: [{ policy }] });
    const view = await handle.result();

    assert.equal(view.status, 'Completed', view.error);
    const dump = (await activityOutcomes(handle)).find((a) => a.activityType === 'dumpAndStore');
    assert.deepEqual([dump?.outcome, dump?.attempt], ['completed', 1], 'the OCI client absorbed the 503s itself');
    assert.ok(flaky.injected >= 5, `only ${flaky.injected} failures injected`);
    assert.ok(flaky.failedRequests.some((r) => r.startsWith('PATCH ')), 'a blob chunk was among the failed requests');

    // Read back directly from the registry, past both proxies.
    const store = createStore({ ...storage, registry: testEnv().registry.host });
    const record = await store.getRecord(view.snapshotName!);
    const archive = Buffer.concat(await (await store.getArchive(view.snapshotName!)).toArray());
    assert.equal(record?.sha256, createHash('sha256').update(archive).digest('hex'));
    assert.equal(record?.bytes, archive.length);
    assert.deepEqual(openUploadSessions(repositoryDir(join(testEnv().runDir, 'registry', 'storage'), repository)), []);
    console.log(`      ${flaky.injected} of ${flaky.requests} requests answered 503: ${[...new Set(flaky.failedRequests.map((r) => r.split(' ')[0]))].join(', ')}`);
  });
});
