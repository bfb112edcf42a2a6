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
  close(): Promise<void>;
}

export async function startTcpProxy(opts: { upstream: string; bytesPerSecond?: number }): Promise<TcpProxy> {
  const [upstreamHost, upstreamPort] = splitHost(opts.upstream);
  let rate = opts.bytesPerSecond;
  let nextFreeAt = 0;
  let forwardedBytes = 0;
  const sockets = new Set<Socket>();
  const transfers: Array<{ firstByteAt: number; lastByteAt: number }> = [];

  /** Forwards `from` -> `to`, pausing `from` for as long as the shared budget says the bytes take. */
  const forward = (from: Socket, to: Socket, transfer: { firstByteAt: number; lastByteAt: number }): void => {
    from.on('data', (chunk: Buffer) => {
      forwardedBytes += chunk.length;
      if (!transfer.firstByteAt) transfers.push(transfer);
      transfer.firstByteAt ||= Date.now();
      transfer.lastByteAt = Date.now();
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
      if (!rate) return;
      const start = Math.max(Date.now(), nextFreeAt);
      nextFreeAt = start + (chunk.length / rate) * 1000;
      const waitMs = nextFreeAt - Date.now();
      if (waitMs > 2) {
        from.pause();
        setTimeout(() => from.resume(), waitMs).unref();
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
    forward(client, upstream, transfer);
    forward(upstream, client, transfer);
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
