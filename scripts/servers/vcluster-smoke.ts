// Smoke check of the vCluster harness (`npx tsx scripts/servers/vcluster-smoke.ts`): the harness kube-apiserver and
// MinIO, one real vCluster against them, a few ConfigMaps inside it, then a vCluster snapshot request filed by hand
// exactly as `vcluster snapshot create NAME s3://...` files it (a ConfigMap and a Secret in the host namespace),
// to MinIO and to a container:// path, each watched until Completed and its archive found. Prints timings and memory.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import * as k8s from '@kubernetes/client-node';
import { adminKubeConfig, startKube } from './kube';
import { startMinio } from './minio';
import { serverGroup } from './process';
import { startVcluster } from './vcluster';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (line: string) => console.log(`[vcluster-smoke] ${line}`);

/** Files a snapshot request like `vcluster snapshot create` (pkg/snapshot/request.go, loft-sh/api pkg/snapshot). */
async function fileSnapshotRequest(core: k8s.CoreV1Api, namespace: string, name: string, options: Record<string, unknown>, url: string) {
  const labels = { 'vcluster.loft.sh/vcluster-namespace': namespace, 'vcluster.loft.sh/vcluster-name': name, 'vcluster.loft.sh/snapshot-request': '' };
  const secret = await core.createNamespacedSecret({
    namespace,
    body: { metadata: { generateName: `${name}-snapshot-request-`, namespace, labels }, data: { snapshotOptions: b64(JSON.stringify(options)) } },
  });
  const request = { metadata: { name: secret.metadata!.name!, creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }, spec: { url }, status: { error: {} } };
  const configMap = { metadata: { name: secret.metadata!.name!, namespace, labels }, data: { snapshotRequest: JSON.stringify(request) } };
  await core.createNamespacedConfigMap({ namespace, body: configMap });
  log(`filed Secret data.snapshotOptions=${JSON.stringify(options).replace(/"secret-access-key":"[^"]*"/, '"secret-access-key":"<redacted>"')}`);
  log(`filed ConfigMap ${JSON.stringify(configMap)}`);
  return secret.metadata!.name!;
}

async function waitForPhase(core: k8s.CoreV1Api, namespace: string, name: string, timeoutMs = 60_000): Promise<{ phases: string[]; millis: number; status: unknown }> {
  const t0 = Date.now();
  const phases: string[] = [];
  for (;;) {
    const cm = await core.readNamespacedConfigMap({ name, namespace });
    const request = JSON.parse(cm.data?.snapshotRequest ?? '{}') as { status?: { phase?: string; error?: { message?: string } } };
    const phase = request.status?.phase ?? '';
    if (phases[phases.length - 1] !== phase) phases.push(phase);
    if (['Completed', 'Failed', 'PartiallyFailed', 'Canceled'].includes(phase)) {
      let secretGone = false;
      try {
        await core.readNamespacedSecret({ name, namespace });
      } catch {
        secretGone = true;
      }
      log(`request ${name}: final ConfigMap data=${cm.data?.snapshotRequest} finalizers=${JSON.stringify(cm.metadata?.finalizers ?? [])} secretDeleted=${secretGone}`);
      return { phases, millis: Date.now() - t0, status: request.status };
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`request ${name} still in phase '${phase}' after ${timeoutMs} ms`);
    await sleep(50);
  }
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'vcsnap-vcluster-smoke-'));
  const group = serverGroup();
  const t0 = Date.now();
  let ok = false;
  try {
    const [kube, minio] = await Promise.all([group.track(startKube({ dir })), group.track(startMinio({ dir }))]);
    log(`kube-apiserver ready in ${kube.startMillis} ms, MinIO in ${minio.startMillis} ms`);
    const s3 = new S3Client({ endpoint: minio.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey } });
    await s3.send(new CreateBucketCommand({ Bucket: 'vcluster-snapshots' }));

    // two at once, each in its own namespaces (one vCluster per host namespace, as the chart requires)
    const minioPort = Number(new URL(minio.endpoint).port);
    const [vc, vc2] = await Promise.all(
      ['smoke', 'smoke-b'].map((n) => group.track(startVcluster({ dir, kube, name: n, namespace: `vcluster-${n}`, hostPorts: [minioPort] }))),
    );
    const { name, namespace } = vc;
    for (const v of [vc, vc2]) {
      log(`vcluster ${v.name} ready in ${v.startMillis} ms (API ${v.server}, kubeconfig ${v.kubeconfigFile}); memory ${(v.memoryBytes() / 2 ** 20).toFixed(0)} MiB`);
      log(`  ${v.processes().map((p) => `${p.command.split('/').pop()}=${(p.rssBytes / 2 ** 20).toFixed(0)}MiB`).join(' ')}`);
    }

    const vcore = vc.kubeConfig().makeApiClient(k8s.CoreV1Api);
    for (let i = 0; i < 5; i++) {
      await vcore.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: `smoke-${i}` }, data: { i: String(i) } } });
    }
    const listed = await vcore.listNamespacedConfigMap({ namespace: 'default' });
    log(`virtual cluster ${name} ConfigMaps in default: ${listed.items.map((c) => c.metadata?.name).join(', ')}`);
    const other = await vc2.kubeConfig().makeApiClient(k8s.CoreV1Api).listNamespacedConfigMap({ namespace: 'default' });
    log(`virtual cluster ${vc2.name} ConfigMaps in default: ${other.items.map((c) => c.metadata?.name).join(', ')}`);
    await vc2.stop();
    log(`stopped ${vc2.name}; processes left in its namespace: ${vc2.processes().length}`);

    const core = adminKubeConfig(kube.server, kube.adminToken).makeApiClient(k8s.CoreV1Api);
    // s3://BUCKET/KEY?url=...&force-path-style=true&region=...&access-key-id=...&secret-access-key=... parsed as
    // pkg/snapshot/options.go Parse does (base64 for url and keys); the Secret carries the parsed options.
    const key = 'smoke/snap-1.tar.gz';
    const s3Options = {
      type: 's3',
      s3: { bucket: 'vcluster-snapshots', key, 'access-key-id': minio.accessKeyId, 'secret-access-key': minio.secretAccessKey, region: 'us-east-1', url: minio.endpoint, 'force-path-style': true },
      container: {},
      oci: {},
      azure: {},
      file: {},
    };
    const s3Name = await fileSnapshotRequest(core, namespace, name, s3Options, `s3://vcluster-snapshots/${key}`);
    const s3Result = await waitForPhase(core, namespace, s3Name);
    log(`s3 request phases ${JSON.stringify(s3Result.phases)} in ${s3Result.millis} ms; status ${JSON.stringify(s3Result.status)}`);
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'vcluster-snapshots', Key: key }));
    log(`archive s3://vcluster-snapshots/${key}: ${head.ContentLength} bytes`);

    const containerOptions = { type: 'container', s3: {}, container: { path: '/data/snapshots/snap-2.tar.gz' }, oci: {}, azure: {}, file: {} };
    const cName = await fileSnapshotRequest(core, namespace, name, containerOptions, 'container:///data/snapshots/snap-2.tar.gz');
    const cResult = await waitForPhase(core, namespace, cName);
    log(`container request phases ${JSON.stringify(cResult.phases)} in ${cResult.millis} ms; status ${JSON.stringify(cResult.status)}`);
    const hostPath = join(vc.dataDir, 'snapshots', 'snap-2.tar.gz');
    log(`archive container:///data/snapshots/snap-2.tar.gz = host ${hostPath}: ${statSync(hostPath).size} bytes`);
    log(`vcluster memory after snapshots: ${(vc.memoryBytes() / 2 ** 20).toFixed(0)} MiB`);
    ok = s3Result.phases.includes('Completed') && cResult.phases.includes('Completed');
    log(ok ? 'OK' : 'FAILED');
    if (!ok) process.exitCode = 1;
  } finally {
    const ts = Date.now();
    await group.stopAll();
    log(`stopped all in ${Date.now() - ts} ms; total ${((Date.now() - t0) / 1000).toFixed(1)} s; logs in ${dir}`);
    if (ok && !process.env.KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
