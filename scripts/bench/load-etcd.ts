// Fills an etcd with the synthetic key space fast: transactions of 128 puts (etcd's default --max-txn-ops) on several
// gRPC connections at once.
import { Etcd3 } from 'etcd3';
import { keyValueAt } from './data';

const TXN_OPS = 128;

export interface LoadResult {
  keys: number;
  valueBytes: number;
  seconds: number;
}

/** Puts the pairs of indexes `from` (inclusive) to `to` (exclusive). */
export async function loadEtcd(endpoint: string, from: number, to: number, log: (line: string) => void, connections = 6): Promise<LoadResult> {
  // A local subchannel pool per client: otherwise grpc-js shares one TCP connection among them.
  const clients = Array.from({ length: connections }, () => new Etcd3({ hosts: endpoint, grpcOptions: { 'grpc.use_local_subchannel_pool': 1 } }));
  const started = performance.now();
  let next = from;
  let valueBytes = 0;
  let lastLog = started;
  const fill = async (client: Etcd3): Promise<void> => {
    while (next < to) {
      const first = next;
      next = Math.min(to, next + TXN_OPS);
      const success = [];
      for (let index = first; index < next; index++) {
        const { key, value } = keyValueAt(index);
        valueBytes += value.length;
        success.push({ request_put: { key: Buffer.from(key), value } });
      }
      await client.kv.txn({ success });
      if (performance.now() - lastLog > 10_000) {
        lastLog = performance.now();
        log(`[bench] loaded ${next.toLocaleString('en-US')} of ${to.toLocaleString('en-US')} keys`);
      }
    }
  };
  try {
    await Promise.all(clients.map(fill));
  } finally {
    for (const client of clients) client.close();
  }
  return { keys: to - from, valueBytes, seconds: (performance.now() - started) / 1000 };
}
