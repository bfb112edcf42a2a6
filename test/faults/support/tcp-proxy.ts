// A loopback TCP proxy for fault tests: it forwards every connection to an upstream `host:port`, can throttle the
// bytes it passes (one budget for both directions, shared by all connections) and can cut every open connection.
// Being below HTTP and gRPC, it slows or breaks MinIO, the registry and etcd without knowing their protocols.
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface TcpProxy {
  /** `127.0.0.1:<port>`: what the product is pointed at. */
  host: string;
  /** Bytes per second through the proxy; undefined = as fast as the upstream goes. */
  setRate(bytesPerSecond: number | undefined): void;
  /** Bytes forwarded so far, both directions. */
  readonly forwardedBytes: number;
  /** For each connection so far: when its first and last bytes passed (ms since the epoch). */
  readonly transfers: ReadonlyArray<{ firstByteAt: number; lastByteAt: number }>;
  /**
   * Slows every connection open now to a trickle of `bytesPerSecond` (0: not a byte) in small pieces, so a server
   * that times out idle reads keeps the request; new connections pass as before. What the client already sent waits
   * in the socket buffers. `releaseHeld` lets them go on at full speed; `tap` then sees what passes on them.
   * `andNew`: connections opened later are held too (not a byte passes until released), so no retry gets through.
   */
  holdOpenConnections(bytesPerSecond?: number, options?: { andNew?: boolean }): void;
  releaseHeld(tap?: (chunk: Buffer, direction: 'toUpstream' | 'toClient') => void): void;
  close(): Promise<void>;
}

export async function startTcpProxy(opts: { upstream: string; bytesPerSecond?: number }): Promise<TcpProxy> {
  const [upstreamHost, upstreamPort] = splitHost(opts.upstream);
  let rate = opts.bytesPerSecond;
  let nextFreeAt = 0;
  let forwardedBytes = 0;
  const sockets = new Set<Socket>();
  const transfers: Array<{ firstByteAt: number; lastByteAt: number }> = [];
  type Tap = (chunk: Buffer, direction: 'toUpstream' | 'toClient') => void;
  interface Pair {
    client: Socket;
    upstream: Socket;
    held: boolean;
    tap?: Tap;
    /** While held: bytes read but not yet passed on, per direction, and the trickle's timer. */
    queued: Map<Socket, Buffer[]>;
    trickle?: NodeJS.Timeout;
  }
  const pairs = new Set<Pair>();
  let holdingNew = false;

  /** Forwards `from` -> `to`, pausing `from` for as long as the shared budget says the bytes take. */
  const forward = (from: Socket, to: Socket, transfer: { firstByteAt: number; lastByteAt: number }, pair: Pair, direction: 'toUpstream' | 'toClient'): void => {
    from.on('data', (chunk: Buffer) => {
      if (pair.held) {
        pair.queued.get(to)!.push(chunk);
        from.pause();
        return;
      }
      pair.tap?.(chunk, direction);
      forwardedBytes += chunk.length;
      if (!transfer.firstByteAt) transfers.push(transfer);
      transfer.firstByteAt ||= Date.now();
      transfer.lastByteAt = Date.now();
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => pair.held || from.resume());
      }
      if (!rate || pair.held) return;
      const start = Math.max(Date.now(), nextFreeAt);
      nextFreeAt = start + (chunk.length / rate) * 1000;
      const waitMs = nextFreeAt - Date.now();
      if (waitMs > 2) {
        from.pause();
        setTimeout(() => pair.held || from.resume(), waitMs).unref();
      }
    });
    from.on('end', () => to.end());
  };

  const server = createServer((client) => {
    const upstream = connect(upstreamPort, upstreamHost);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    const transfer = { firstByteAt: 0, lastByteAt: 0 };
    const pair: Pair = { client, upstream, held: false, queued: new Map([[client, []], [upstream, []]]) };
    pairs.add(pair);
    if (holdingNew) {
      pair.held = true;
      client.pause();
      upstream.pause();
    }
    client.on('close', () => pairs.delete(pair));
    forward(client, upstream, transfer, pair, 'toUpstream');
    forward(upstream, client, transfer, pair, 'toClient');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host,
    setRate: (bytesPerSecond) => {
      rate = bytesPerSecond;
      nextFreeAt = 0;
    },
    get forwardedBytes() {
      return forwardedBytes;
    },
    transfers,
    holdOpenConnections(bytesPerSecond = 0, options = {}) {
      holdingNew = options.andNew === true;
      const piece = Math.ceil(bytesPerSecond / 4);
      for (const pair of pairs) {
        pair.held = true;
        pair.client.pause();
        pair.upstream.pause();
        if (!piece) continue;
        // Every 250 ms, one small piece of what waits goes on (reading more from the sender when nothing waits).
        pair.trickle = setInterval(() => {
          for (const [to, from] of [[pair.upstream, pair.client], [pair.client, pair.upstream]] as const) {
            const queue = pair.queued.get(to)!;
            if (queue.length === 0) {
              from.resume();
              continue;
            }
            const head = queue[0]!;
            to.write(head.subarray(0, piece));
            forwardedBytes += Math.min(piece, head.length);
            if (head.length > piece) queue[0] = head.subarray(piece);
            else queue.shift();
          }
        }, 250);
        pair.trickle.unref();
      }
    },
    releaseHeld(tap) {
      holdingNew = false;
      for (const pair of pairs) {
        if (!pair.held) continue;
        pair.held = false;
        clearInterval(pair.trickle);
        pair.tap = tap;
        for (const [to, direction] of [[pair.upstream, 'toUpstream'], [pair.client, 'toClient']] as const) {
          for (const chunk of pair.queued.get(to)!.splice(0)) {
            tap?.(chunk, direction);
            forwardedBytes += chunk.length;
            to.write(chunk);
          }
        }
        pair.client.resume();
        pair.upstream.resume();
      }
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function splitHost(hostPort: string): [string, number] {
  const url = new URL(hostPort.includes('://') ? hostPort : `tcp://${hostPort}`);
  return [url.hostname, Number(url.port)];
}
