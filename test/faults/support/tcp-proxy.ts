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
  close(): Promise<void>;
}

export async function startTcpProxy(opts: { upstream: string; bytesPerSecond?: number }): Promise<TcpProxy> {
  const [upstreamHost, upstreamPort] = splitHost(opts.upstream);
  let rate = opts.bytesPerSecond;
  let nextFreeAt = 0;
  let forwardedBytes = 0;
  const sockets = new Set<Socket>();

  /** Forwards `from` -> `to`, pausing `from` for as long as the shared budget says the bytes take. */
  const forward = (from: Socket, to: Socket): void => {
    from.on('data', (chunk: Buffer) => {
      forwardedBytes += chunk.length;
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
    forward(client, upstream);
    forward(upstream, client);
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
