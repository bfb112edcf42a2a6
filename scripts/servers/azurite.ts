// Azurite, Microsoft's Azure Storage emulator (the pinned `azurite` npm devDependency), as the real Azure Blob server
// of the tests: its blob service only, on loopback, with its own data dir and a test account whose key is not the
// well-known emulator key (so the secret scan can tell it apart). On the loopback address accounts are path-style,
// `http://127.0.0.1:<port>/<account>/<container>/<blob>`; Azurite's product-style URLs stay on, so a request whose Host
// is `<account>.blob.<anything>` (vCluster's Azure store takes the account from the host's first label) reaches the
// account too.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startProcess, type RunningProcess } from './process';

export interface AzuriteServer extends RunningProcess {
  /** Blob service URL of the test account, e.g. `http://127.0.0.1:41234/vcsnaptest`. */
  serviceUrl: string;
  accountName: string;
  /** Base64 account key (the emulator's SharedKey secret). */
  accountKey: string;
  dataDir: string;
}

export async function startAzurite(opts: { dir: string; accountName?: string; port?: number }): Promise<AzuriteServer> {
  const port = opts.port ?? (await freePort());
  const dataDir = join(opts.dir, 'azurite-data');
  mkdirSync(dataDir, { recursive: true });
  const accountName = opts.accountName ?? 'vcsnaptest';
  // A fresh key per run: 64 random bytes, base64, like a real storage account key.
  const accountKey = randomBytes(64).toString('base64');
  const serviceUrl = `http://127.0.0.1:${port}/${accountName}`;
  const running = await startProcess({
    name: `azurite-${port}`,
    command: process.execPath,
    args: [
      require.resolve('azurite/dist/src/blob/main.js'),
      '--blobHost', '127.0.0.1',
      '--blobPort', String(port),
      '--location', dataDir,
      '--disableTelemetry',
      '--skipApiVersionCheck',
      '--silent',
    ],
    env: { AZURITE_ACCOUNTS: `${accountName}:${accountKey}` },
    logDir: opts.dir,
    // Any HTTP answer means the server is listening: an unsigned list request is refused with 403.
    ready: async () => {
      const response = await fetch(`${serviceUrl}?comp=list`, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      return response.status === 403 || response.status === 200;
    },
  });
  return { ...running, serviceUrl, accountName, accountKey, dataDir };
}
