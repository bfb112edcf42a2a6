// The drill's optional control-plane check: a kube-apiserver started on the restored scratch etcd (loopback, a
// random token of its own, temp directory removed afterwards) must come up and list every resource type. Counts
// per kind are compared with what the drill decoded from the archive.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { freeLoopbackPort, scratchDir, startScratchProcess } from './process';
import { kindKey } from './objects';

/**
 * Kinds the control plane itself rewrites as it starts (its own lease, events, and the `kubernetes` Service's
 * endpoints, which its reconciler points at the new apiserver): counts may differ legitimately.
 */
const CHURNING_KINDS = new Set(['Lease.coordination.k8s.io', 'Event', 'Event.events.k8s.io', 'Endpoints', 'EndpointSlice.discovery.k8s.io']);

export interface ApiServerCheck {
  resourceTypes: number;
  objects: Record<string, number>;
  problems: string[];
}

interface Discovered {
  apiVersion: string;
  resources: Array<{ name: string; kind: string; namespaced: boolean; verbs: string[] }>;
}

/**
 * GET on the scratch apiserver. Its serving certificate is self-signed and generated at its start, on loopback,
 * for a process this worker started; the bearer token is random and known to that process only.
 */
function get(server: string, token: string, path: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(`${server}${path}`, { rejectUnauthorized: false, headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // Not JSON (e.g. readyz's "ok").
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

async function discover(server: string, token: string): Promise<Discovered[]> {
  const versions: string[] = ['v1'];
  const groups = (await get(server, token, '/apis')).body as { groups?: Array<{ preferredVersion?: { groupVersion?: string } }> };
  for (const group of groups.groups ?? []) if (group.preferredVersion?.groupVersion) versions.push(group.preferredVersion.groupVersion);
  const found: Discovered[] = [];
  for (const apiVersion of versions) {
    const path = apiVersion === 'v1' ? '/api/v1' : `/apis/${apiVersion}`;
    const list = (await get(server, token, path)).body as { resources?: Discovered['resources'] };
    found.push({ apiVersion, resources: (list.resources ?? []).filter((r) => !r.name.includes('/') && r.verbs.includes('list')) });
  }
  return found;
}

async function countObjects(server: string, token: string, apiVersion: string, resource: string): Promise<number> {
  const base = apiVersion === 'v1' ? `/api/v1/${resource}` : `/apis/${apiVersion}/${resource}`;
  let count = 0;
  let next: string | undefined;
  do {
    const query = `?limit=500${next ? `&continue=${encodeURIComponent(next)}` : ''}`;
    const { status, body } = await get(server, token, base + query);
    if (status !== 200) throw new Error(`listing ${resource} (${apiVersion}) answered ${status}`);
    const list = body as { items?: unknown[]; metadata?: { continue?: string } };
    count += list.items?.length ?? 0;
    next = list.metadata?.continue || undefined;
  } while (next);
  return count;
}

/**
 * Starts kube-apiserver (`binary`) on `etcdEndpoint`, lists every resource type, and checks that it lists at least
 * the `archived` count of each kind; stops it.
 */
export async function checkWithApiServer(binary: string, etcdEndpoint: string, archived: Record<string, number>, signal?: AbortSignal): Promise<ApiServerCheck> {
  const dir = await scratchDir('kube-apiserver');
  const token = randomBytes(24).toString('hex');
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await writeFile(join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  await writeFile(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  await writeFile(join(dir, 'tokens.csv'), `${token},vcsnap-drill,vcsnap-drill,"system:masters"\n`, { mode: 0o600 });
  const port = await freeLoopbackPort();
  const server = `https://127.0.0.1:${port}`;
  const process = await startScratchProcess({
    name: 'kube-apiserver',
    command: binary,
    args: [
      `--etcd-servers=${etcdEndpoint}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${port}`,
      `--cert-dir=${join(dir, 'certs')}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      '--service-cluster-ip-range=10.96.0.0/24',
      '--enable-priority-and-fairness=false',
      '--v=0',
    ],
    dir,
    ready: async () => (await get(server, token, '/readyz')).status === 200,
    timeoutMs: 180_000,
    signal,
  });
  try {
    const listed: Record<string, number> = {};
    let resourceTypes = 0;
    const problems: string[] = [];
    for (const { apiVersion, resources } of await discover(server, token)) {
      for (const resource of resources) {
        resourceTypes++;
        signal?.throwIfAborted();
        try {
          const key = kindKey(apiVersion, resource.kind);
          listed[key] = (listed[key] ?? 0) + (await countObjects(server, token, apiVersion, resource.name));
        } catch (err) {
          problems.push(err instanceof Error ? err.message : String(err));
        }
      }
    }
    for (const [kind, count] of Object.entries(archived)) {
      if (CHURNING_KINDS.has(kind) || !(kind in listed)) continue;
      // More is the control plane bootstrapping its own objects (a kube-system ConfigMap the source had not made yet);
      // fewer means objects of the snapshot did not come back.
      if (listed[kind]! < count) problems.push(`the apiserver lists ${listed[kind]} ${kind} objects, the archive holds ${count}`);
    }
    const objects = Object.fromEntries(Object.entries(listed).filter(([, n]) => n > 0).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    return { resourceTypes, objects, problems };
  } finally {
    await process.stop();
  }
}
