// A real HTTP webhook receiver for alert tests: records every POST (body and idempotency key); `failNext` makes it
// answer 503 to the next requests, `holdNext` leaves the next ones unanswered (a sender that dies mid-send).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedAlert {
  idempotencyKey?: string;
  body: {
    groupKey?: string;
    status?: string;
    text?: string;
    commonLabels?: Record<string, string>;
    commonAnnotations?: Record<string, string>;
    alerts?: Array<{ status?: string; labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; endsAt?: string; fingerprint?: string }>;
  };
}

export interface WebhookReceiver {
  url: string;
  /** Requests answered 2xx. */
  received: ReceivedAlert[];
  /** Every request, answered or not. */
  attempts: number;
  /** The idempotency key of every request, answered or not, in order. */
  keys: string[];
  failNext(count: number): void;
  holdNext(count: number): void;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  let failures = 0;
  let holds = 0;
  const receiver = {
    url: '',
    received: [] as ReceivedAlert[],
    attempts: 0,
    keys: [] as string[],
    failNext(count: number) {
      failures = count;
    },
    holdNext(count: number) {
      holds = count;
    },
    close: (): Promise<void> => Promise.resolve(),
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      receiver.attempts++;
      const key = req.headers['idempotency-key'];
      receiver.keys.push(typeof key === 'string' ? key : '');
      if (holds > 0) {
        holds--;
        return;
      }
      if (failures > 0) {
        failures--;
        res.writeHead(503).end();
        return;
      }
      receiver.received.push({ idempotencyKey: typeof key === 'string' ? key : undefined, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as ReceivedAlert['body'] });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}
