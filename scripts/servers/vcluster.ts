// A real vCluster control plane (`vcluster start`, the syncer, as the chart's pod runs it) as a plain process
// against the harness kube-apiserver, with the chart's default embedded SQLite store (kine).
//
// `vcluster start` uses fixed paths (/data, /binaries/{kine,kube-apiserver,kube-controller-manager}) and fixed
// loopback ports (6443, 8443, 2381, 10099, ...), so each vCluster runs in its own mount, network and PID
// namespace (`unshare -mnp --fork`, as root): its /data and /binaries are bind mounts of its own directories,
// and killing the namespace's first process ends every process in it (SIGTERM to the syncer would leave kine
// and the virtual apiserver running). Host loopback ports that it needs (the host kube-apiserver, MinIO, a
// registry) are forwarded into the namespace through unix sockets, so it sees them at the same
// 127.0.0.1:<port>; the syncer's own port 8443 is forwarded out to a free host port for the tests.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { adminKubeConfig, type KubeServer } from './kube';
import { freePort, startProcess, toolPath, versions, type RunningProcess } from './process';

/** The syncer's fixed loopback ports inside its namespace, which no forwarded host port may take. */
const FIXED_PORTS = [6443, 8443, 2379, 2380, 2381, 10099, 10257, 10259, 9090, 10250];

export interface VclusterServer extends RunningProcess {
  name: string;
  namespace: string;
  /** Host URL of the virtual cluster's API (the syncer's port 8443, forwarded). */
  server: string;
  /** Kubeconfig of the virtual cluster's admin (exported by vCluster in Secret vc-<name>), pointing at `server`. */
  kubeconfigFile: string;
  kubeConfig(): k8s.KubeConfig;
  /** The merged values (`--config`, and Secret vc-config-<name>). */
  values: Record<string, unknown>;
  /** Host directory bind-mounted at /data inside the namespace (kine's SQLite db is data/state.db). */
  dataDir: string;
  /** Total resident memory of every process in the vCluster's namespace, in bytes. */
  memoryBytes(): number;
  /** The processes in the vCluster's namespace (host pids), with their resident memory. */
  processes(): { pid: number; command: string; rssBytes: number }[];
}

export interface VclusterOptions {
  dir: string;
  kube: KubeServer;
  name: string;
  namespace: string;
  /** Values deep-merged over the chart defaults and the harness's own (objects merge, arrays replace). */
  values?: Record<string, unknown>;
  /** More host loopback ports to make reachable inside the namespace (MinIO, a registry); the kube port always is. */
  hostPorts?: number[];
  /**
   * Inside port -> host port, where the vCluster must see a host server at another port than its own (e.g. a TLS
   * front of a plain server, at the port the plain one has outside).
   */
  portMap?: Record<number, number>;
  /** More environment for the syncer (e.g. SSL_CERT_FILE for a test CA). */
  env?: Record<string, string>;
  timeoutMs?: number;
}

export function vclusterBinary(): string {
  return toolPath('vcluster', 'VCLUSTER_VERSION');
}

/** The chart's default values.yaml at the pinned version (copied beside the binary by install-servers.sh). */
export function chartValues(): Record<string, unknown> {
  return parseYaml(readFileSync(toolPath('vcluster', 'VCLUSTER_VERSION', 'values.yaml'), 'utf8')) as Record<string, unknown>;
}

/** The harness's values: nothing that needs pods to run (the host has no nodes) and no telemetry. */
export const HARNESS_VALUES: Record<string, unknown> = {
  telemetry: { enabled: false },
  controlPlane: { coredns: { enabled: false } },
};

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export function deepMerge(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [key, value] of Object.entries(over)) out[key] = isObj(value) && isObj(out[key]) ? deepMerge(out[key] as Obj, value) : value;
  return out;
}

// Runs inside the namespace: listens on 127.0.0.1:<port> for each host port (to the host side's unix socket) and
// on a unix socket for each inside port (to 127.0.0.1:<port>), then touches the ready file. It holds a connection
// to the host side's lifeline socket and exits when that closes (the harness process is gone), which ends the
// namespace. Plain JS for `node -e`.
const NS_FORWARDER = `
const net = require('net'), fs = require('fs');
const cfg = JSON.parse(process.argv[1]);
const join = (a, b) => { a.pipe(b); b.pipe(a); const end = () => { a.destroy(); b.destroy(); };
  for (const s of [a, b]) { s.on('error', end); s.on('close', end); } };
const lifeline = net.connect(cfg.lifeline);
lifeline.on('error', () => process.exit(1));
lifeline.on('close', () => process.exit(0));
lifeline.resume();
let pending = cfg.inbound.length + cfg.outbound.length;
const listening = () => { if (--pending === 0) fs.writeFileSync(cfg.ready, ''); };
for (const f of cfg.inbound) net.createServer((c) => join(c, net.connect(f.socket))).listen(f.port, '127.0.0.1', listening);
for (const f of cfg.outbound) { try { fs.unlinkSync(f.socket); } catch {}
  net.createServer((c) => join(c, net.connect(f.port, '127.0.0.1'))).listen(f.socket, listening); }
`;

function pipeBoth(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  const end = () => {
    a.destroy();
    b.destroy();
  };
  for (const s of [a, b]) {
    s.on('error', end);
    s.on('close', end);
  }
}

function listen(server: Server, target: string | number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    if (typeof target === 'number') server.listen(target, '127.0.0.1', () => resolve());
    else server.listen(target, () => resolve());
  });
}

/** Host pids whose PID namespace is the given one (`pid:[inode]`). */
function pidsInNamespace(ns: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/ns/pid`) === ns) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function rssBytes(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
  } catch {
    return '';
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startVcluster(opts: VclusterOptions): Promise<VclusterServer> {
  const { name, namespace, kube } = opts;
  if (process.getuid?.() !== 0) throw new Error('startVcluster needs root (unshare of mount, network and PID namespaces, bind mounts)');
  const base = join(opts.dir, `vcluster-${name}`);
  const dataDir = join(base, 'data');
  const binDir = join(base, 'binaries');
  rmSync(binDir, { recursive: true, force: true });
  for (const d of [dataDir, binDir, join(base, 'tmp'), join(base, 'home')]) mkdirSync(d, { recursive: true });
  symlinkSync(toolPath('kine', 'KINE_VERSION'), join(binDir, 'kine'));
  symlinkSync(toolPath('kube-apiserver', 'KUBERNETES_VERSION'), join(binDir, 'kube-apiserver'));
  symlinkSync(toolPath('kube-controller-manager', 'KUBERNETES_VERSION'), join(binDir, 'kube-controller-manager'));
  // bind-mount targets; they stay empty on the host
  mkdirSync('/data', { recursive: true });
  mkdirSync('/binaries', { recursive: true });

  const values = deepMerge(deepMerge(chartValues(), HARNESS_VALUES), opts.values ?? {});
  const configFile = join(base, 'config.yaml');
  writeFileSync(configFile, stringifyYaml(values));
  await createHostResources(kube, name, namespace, values);

  // forwarding: unix sockets in a short directory (the sun_path limit is 108 bytes)
  const sockDir = mkdtempSync(join(tmpdir(), 'vcns-'));
  const kubePort = Number(new URL(kube.server).port);
  const portMap = opts.portMap ?? {};
  const hostPorts = [...new Set([kubePort, ...(opts.hostPorts ?? []), ...Object.keys(portMap).map(Number)])];
  const clash = hostPorts.filter((p) => FIXED_PORTS.includes(p));
  if (clash.length > 0) throw new Error(`host ports ${clash.join(', ')} clash with vCluster's own ports`);
  const servers: Server[] = [];
  const inbound = hostPorts.map((port) => ({ port, socket: join(sockDir, `in-${port}.sock`) }));
  for (const f of inbound) {
    const server = createServer((c) => pipeBoth(c, connect(portMap[f.port] ?? f.port, '127.0.0.1')));
    servers.push(server);
    await listen(server, f.socket);
  }
  const lifeline = join(sockDir, 'lifeline.sock');
  const lifelineServer = createServer((c) => c.on('error', () => c.destroy()).resume());
  servers.push(lifelineServer);
  await listen(lifelineServer, lifeline);
  const apiPort = await freePort();
  const outbound = [{ port: 8443, socket: join(sockDir, 'out-8443.sock') }];
  const apiServer = createServer((c) => pipeBoth(c, connect(outbound[0].socket)));
  servers.push(apiServer);
  await listen(apiServer, apiPort);
  const pidNsFile = join(sockDir, 'pidns');
  const pidNs = () => {
    try {
      return readFileSync(pidNsFile, 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  /** Waits until no process is left in the namespace, then closes the host side of the forwarding. */
  const cleanUp = async () => {
    const ns = pidNs();
    if (ns) {
      const deadline = Date.now() + 15_000;
      while (pidsInNamespace(ns).length > 0 && Date.now() < deadline) await sleep(100);
    }
    await Promise.allSettled(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    rmSync(sockDir, { recursive: true, force: true });
  };

  const ready = join(sockDir, 'ready');
  const forwarderConfig = JSON.stringify({ inbound, outbound, ready, lifeline });
  // bash is the namespace's PID 1: when it exits, the kernel kills every process left in the namespace. It exits
  // when either the syncer or the forwarder (lifeline gone) does; stop() kills unshare, whose --kill-child kills it.
  const script = [
    'set -eu',
    'readlink /proc/$$/ns/pid > "$VC_PIDNS"',
    `mount --bind "$VC_BASE/data" /data`,
    `mount --bind "$VC_BASE/binaries" /binaries`,
    'ip link set lo up',
    `"$VC_NODE" -e "$VC_FORWARDER" "$VC_FORWARDS" &`,
    'for i in $(seq 200); do [ -e "$VC_READY" ] && break; sleep 0.05; done',
    '[ -e "$VC_READY" ] || { echo "namespace forwarder not ready" >&2; exit 1; }',
    '"$VC_BIN" start --config "$VC_CONFIG" &',
    'set +e; wait -n; status=$?',
    'echo "vcluster namespace: a process exited ($status), ending the namespace" >&2',
    'exit $status',
  ].join('\n');
  const server = `https://127.0.0.1:${apiPort}`;
  let kubeconfigText: string | undefined;
  const core = adminKubeConfig(kube.server, kube.adminToken).makeApiClient(k8s.CoreV1Api);
  let running: RunningProcess;
  try {
    running = await startProcess({
      name: `vcluster-${name}`,
      command: 'unshare',
      args: ['--mount', '--net', '--pid', '--fork', '--kill-child', '--mount-proc', 'bash', '-c', script],
      env: {
        VC_BASE: base,
        VC_NODE: process.execPath,
        VC_FORWARDER: NS_FORWARDER,
        VC_FORWARDS: forwarderConfig,
        VC_READY: ready,
        VC_PIDNS: pidNsFile,
        VC_BIN: vclusterBinary(),
        VC_CONFIG: configFile,
        // what the chart's StatefulSet gives the container
        POD_NAME: `${name}-0`,
        POD_IP: '127.0.0.1',
        NODE_IP: '127.0.0.1',
        VCLUSTER_NAME: name,
        NAMESPACE: namespace,
        KUBECONFIG: kube.kubeconfigFile,
        TMPDIR: join(base, 'tmp'),
        HOME: join(base, 'home'),
        ...opts.env,
      },
      logDir: opts.dir,
      stopSignal: 'SIGKILL', // unshare ignores SIGTERM; its death (--kill-child) kills the namespace's init
      timeoutMs: opts.timeoutMs ?? 120_000,
      ready: async () => {
        if (!(await apiReady(server))) return false;
        kubeconfigText ??= await exportedKubeconfig(core, name, namespace);
        return kubeconfigText !== undefined;
      },
    });
  } catch (err) {
    await cleanUp();
    throw err;
  }
  const ns = pidNs();

  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromString(kubeconfigText!);
  // the serving certificate has IP SAN 127.0.0.1, so only the address changes
  kubeConfig.clusters = kubeConfig.clusters.map((c) => ({ ...c, server }));
  const kubeconfigFile = join(base, 'kubeconfig');
  writeFileSync(kubeconfigFile, kubeConfig.exportConfig());

  const stop = async () => {
    await running.stop();
    await cleanUp();
  };
  return {
    ...running,
    stop,
    name,
    namespace,
    server,
    kubeconfigFile,
    kubeConfig: () => {
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(kubeconfigFile);
      return kc;
    },
    values,
    dataDir,
    memoryBytes: () => (ns ? pidsInNamespace(ns).reduce((sum, p) => sum + rssBytes(p), 0) : 0),
    processes: () => (ns ? pidsInNamespace(ns).map((p) => ({ pid: p, command: commandOf(p), rssBytes: rssBytes(p) })) : []),
  };
}

/** What the chart installs besides the StatefulSet that `vcluster start` reads: its config Secret and its Service. */
async function createHostResources(kube: KubeServer, name: string, namespace: string, values: Obj): Promise<void> {
  const core = adminKubeConfig(kube.server, kube.adminToken).makeApiClient(k8s.CoreV1Api);
  const chart = `vcluster-${versions().VCLUSTER_VERSION.replace(/^v/, '')}`;
  const labels = { app: 'vcluster', chart, release: name, heritage: 'Helm' };
  const ignoreConflict = (err: unknown) => {
    if ((err as { code?: number }).code !== 409) throw err;
  };
  await core.createNamespace({ body: { metadata: { name: namespace } } }).catch(ignoreConflict);
  const secret: k8s.V1Secret = {
    metadata: { name: `vc-config-${name}`, namespace, labels },
    type: 'Opaque',
    data: { 'config.yaml': Buffer.from(stringifyYaml(values)).toString('base64') },
  };
  await core.createNamespacedSecret({ namespace, body: secret }).catch(async (err) => {
    ignoreConflict(err);
    await core.replaceNamespacedSecret({ name: secret.metadata!.name!, namespace, body: secret });
  });
  await core
    .createNamespacedService({
      namespace,
      body: {
        metadata: {
          name,
          namespace,
          labels: { ...labels, 'vcluster.loft.sh/service': 'true' },
          // the harness kube-apiserver's --service-cluster-ip-range
          annotations: { 'vcluster.loft.sh/service-cidr': '10.96.0.0/24' },
        },
        spec: {
          type: 'ClusterIP',
          ports: [{ name: 'https', port: 443, targetPort: 8443 as unknown as k8s.IntOrString, protocol: 'TCP' }],
          selector: { app: 'vcluster', release: name },
        },
      },
    })
    .catch(ignoreConflict);
}

/** The syncer's /readyz (anonymous, as the chart's probe), through the forwarded port. */
async function apiReady(server: string): Promise<boolean> {
  const { request } = await import('node:https');
  return new Promise((resolve) => {
    const req = request(`${server}/readyz`, { rejectUnauthorized: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function exportedKubeconfig(core: k8s.CoreV1Api, name: string, namespace: string): Promise<string | undefined> {
  try {
    const secret = await core.readNamespacedSecret({ name: `vc-${name}`, namespace });
    const config = secret.data?.config;
    return config ? Buffer.from(config, 'base64').toString('utf8') : undefined;
  } catch {
    return undefined;
  }
}
