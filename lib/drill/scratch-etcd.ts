// The drill's scratch etcd: the worker's etcd binary on a free loopback port with a temp data directory (removed
// when it stops), or an operator-configured endpoint that must be empty (VCSNAP_DRILL_ETCD_ENDPOINT).
import { Etcd3 } from 'etcd3';
import { failure } from '../../contracts/errors';
import { freeLoopbackPort, scratchDir, startScratchProcess } from './process';

export interface ScratchEtcd {
  endpoint: string;
  client: Etcd3;
  /** The process's data directory (absent for a configured endpoint). */
  dataDir?: string;
  /** Stops the process and removes its data; for a configured endpoint, deletes every key the drill wrote. */
  stop(): Promise<void>;
}

export interface ScratchEtcdOptions {
  /** Path of the etcd binary (VCSNAP_DRILL_ETCD). */
  binary?: string;
  /** An existing, empty etcd (VCSNAP_DRILL_ETCD_ENDPOINT), used instead of a process. */
  endpoint?: string;
  signal?: AbortSignal;
}

const ALL_KEYS = { key: Buffer.from([0]), range_end: Buffer.from([0]) };

export async function startScratchEtcd(options: ScratchEtcdOptions): Promise<ScratchEtcd> {
  if (options.endpoint) {
    const client = new Etcd3({ hosts: options.endpoint });
    return {
      endpoint: options.endpoint,
      client,
      async stop() {
        await client.kv.deleteRange(ALL_KEYS).catch(() => undefined);
        client.close();
      },
    };
  }
  if (!options.binary) throw failure('DrillEnvironmentUnavailable', 'restore drills need an etcd: set VCSNAP_DRILL_ETCD (the etcd binary) or VCSNAP_DRILL_ETCD_ENDPOINT');
  const dir = await scratchDir('etcd');
  const [port, peerPort] = [await freeLoopbackPort(), await freeLoopbackPort()];
  const endpoint = `http://127.0.0.1:${port}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const dataDir = `${dir}/data`;
  const client = new Etcd3({ hosts: endpoint });
  const process = await startScratchProcess({
    name: 'etcd',
    command: options.binary,
    args: [
      '--name', 'drill', '--data-dir', dataDir,
      '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `drill=${peer}`, '--log-level', 'error',
      '--quota-backend-bytes', String(8 * 1024 * 1024 * 1024),
    ],
    dir,
    ready: async () => {
      await client.kv.range({ key: Buffer.from('health'), count_only: true }, { deadline: Date.now() + 1000 });
      return true;
    },
    timeoutMs: 60_000,
    signal: options.signal,
  }).catch((err: unknown) => {
    client.close();
    throw err;
  });
  return {
    endpoint,
    client,
    dataDir,
    async stop() {
      client.close();
      await process.stop();
    },
  };
}
