// An endpoint that accepts connections and never answers: what a hung server looks like to a client.
import { createServer, type AddressInfo, type Socket } from 'node:net';

/** Runs `body` with such an endpoint on loopback (its URL, and the sockets it accepted so far); closes it after. */
export async function withSilentServer<T>(body: (url: string, sockets: Socket[]) => Promise<T>): Promise<T> {
  const sockets: Socket[] = [];
  const silent = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  try {
    return await body(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`, sockets);
  } finally {
    sockets.forEach((socket) => socket.destroy());
    silent.close();
  }
}
