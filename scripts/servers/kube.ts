import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { startEtcd, type EtcdServer } from './etcd';
import { CACHE_DIR, freePort, startProcess, toolPath, versions, type RunningProcess } from './process';

export interface KubeServer extends RunningProcess {
  server: string;
  /** Bearer token of a `system:masters` user. */
  adminToken: string;
  kubeconfigFile: string;
  etcd: EtcdServer;
  /** Tokens of the static token file, by user name (for RBAC tests). */
  tokens: Record<string, string>;
  /** The API server's audit log (JSON lines): every request on Secrets, ConfigMaps and CSI snapshots, at Metadata level. */
  auditLogFile: string;
}

export function adminKubeConfig(server: string, token: string): k8s.KubeConfig {
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'test', server, skipTLSVerify: true }],
    users: [{ name: 'admin', token }],
    contexts: [{ name: 'test', cluster: 'test', user: 'admin' }],
    currentContext: 'test',
  });
  return kubeConfig;
}

/** Readiness check: `/readyz` answers 200 to the given bearer token. */
export function readyz(server: string, token: string): () => Promise<boolean> {
  return () =>
    new Promise((resolve) => {
      const req = request(`${server}/readyz`, { rejectUnauthorized: false, headers: { authorization: `Bearer ${token}` }, timeout: 2000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.end();
    });
}

/**
 * kube-apiserver (built from k8s.io/kubernetes) on its own etcd, RBAC on, static token auth, with the CSI snapshot
 * CRDs installed and Established.
 */
export async function startKube(opts: { dir: string; extraUsers?: string[]; /** Use this etcd (its owner stops it) instead of starting one. */ etcd?: EtcdServer }): Promise<KubeServer> {
  const base = join(opts.dir, 'kube');
  mkdirSync(join(base, 'certs'), { recursive: true });
  const etcd = opts.etcd ?? (await startEtcd({ dir: opts.dir, name: 'kube-etcd' }));
  const stopEtcd = () => (opts.etcd ? Promise.resolve() : etcd.stop());
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(base, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(join(base, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const tokens: Record<string, string> = { admin: randomBytes(16).toString('hex') };
  const tokenLines = [`${tokens.admin},admin,admin-uid,"system:masters"`];
  for (const user of opts.extraUsers ?? []) {
    tokens[user] = randomBytes(16).toString('hex');
    tokenLines.push(`${tokens[user]},${user},${user}-uid`);
  }
  writeFileSync(join(base, 'tokens.csv'), tokenLines.join('\n') + '\n');
  // What security tests prove refusals with: who read which Secret (or ConfigMap) and made which CSI snapshot object,
  // never the contents.
  const auditLogFile = join(base, 'audit.log');
  writeFileSync(
    join(base, 'audit-policy.yaml'),
    ['apiVersion: audit.k8s.io/v1', 'kind: Policy', 'omitStages: [RequestReceived]', 'rules:', '  - level: Metadata', '    resources: [{ group: "", resources: [secrets, configmaps] }, { group: snapshot.storage.k8s.io, resources: [volumesnapshots, volumesnapshotcontents] }]', '  - level: None', ''].join('\n'),
  );
  const port = await freePort();
  const server = `https://127.0.0.1:${port}`;
  let running: RunningProcess;
  try {
    running = await startProcess({
      name: 'kube-apiserver',
      command: toolPath('kube-apiserver', 'KUBERNETES_VERSION'),
      args: [
        `--etcd-servers=${etcd.endpoint}`,
        ...(etcd.tls ? [`--etcd-cafile=${etcd.tls.caFile}`, `--etcd-certfile=${etcd.tls.certFile}`, `--etcd-keyfile=${etcd.tls.keyFile}`] : []),
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${port}`,
        `--cert-dir=${join(base, 'certs')}`,
        `--token-auth-file=${join(base, 'tokens.csv')}`,
        '--authorization-mode=RBAC',
        '--service-account-issuer=https://kubernetes.default.svc',
        `--service-account-key-file=${join(base, 'sa.pub')}`,
        `--service-account-signing-key-file=${join(base, 'sa.key')}`,
        '--service-cluster-ip-range=10.96.0.0/24',
        '--enable-priority-and-fairness=false',
        `--audit-policy-file=${join(base, 'audit-policy.yaml')}`,
        `--audit-log-path=${auditLogFile}`,
        '--audit-log-mode=blocking',
        '--v=1',
      ],
      logDir: opts.dir,
      ready: readyz(server, tokens.admin),
      timeoutMs: 180_000,
    });
  } catch (err) {
    await stopEtcd();
    throw err;
  }
  const kubeconfigFile = join(base, 'kubeconfig');
  writeFileSync(kubeconfigFile, adminKubeConfig(server, tokens.admin).exportConfig());
  const stop = async () => {
    await running.stop();
    await stopEtcd();
  };
  try {
    await installSnapshotCrds(adminKubeConfig(server, tokens.admin));
  } catch (err) {
    await stop();
    throw err;
  }
  return { ...running, stop, server, adminToken: tokens.admin, kubeconfigFile, etcd, tokens, auditLogFile };
}

export function snapshotCrdDir(): string {
  return join(CACHE_DIR, `snapshot-crds-${versions().SNAPSHOTTER_CLIENT_VERSION}`);
}

async function installSnapshotCrds(kubeConfig: k8s.KubeConfig): Promise<void> {
  const api = kubeConfig.makeApiClient(k8s.ApiextensionsV1Api);
  const dir = snapshotCrdDir();
  const names: string[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
    const crd = parseYaml(readFileSync(join(dir, file), 'utf8')) as k8s.V1CustomResourceDefinition;
    names.push(crd.metadata!.name!);
    try {
      await api.createCustomResourceDefinition({ body: crd });
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
    }
  }
  const deadline = Date.now() + 60_000;
  for (const name of names) {
    for (;;) {
      const crd = await api.readCustomResourceDefinition({ name });
      if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after 60s`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
