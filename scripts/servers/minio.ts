import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, httpReady, startProcess, toolPath, type RunningProcess } from './process';

export interface MinioServer extends RunningProcess {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  dataDir: string;
}

export async function startMinio(opts: { dir: string; accessKeyId?: string; secretAccessKey?: string; port?: number }): Promise<MinioServer> {
  const port = opts.port ?? (await freePort());
  const consolePort = await freePort();
  const dataDir = join(opts.dir, 'minio-data');
  mkdirSync(dataDir, { recursive: true });
  const accessKeyId = opts.accessKeyId ?? 'vcsnap-test-admin';
  const secretAccessKey = opts.secretAccessKey ?? 'vcsnap-test-secret-Zq8m3Kx1';
  const endpoint = `http://127.0.0.1:${port}`;
  const running = await startProcess({
    name: `minio-${port}`,
    command: toolPath('minio', 'MINIO_VERSION'),
    args: ['server', dataDir, '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${consolePort}`, '--quiet'],
    env: { MINIO_ROOT_USER: accessKeyId, MINIO_ROOT_PASSWORD: secretAccessKey, MINIO_BROWSER: 'off', MINIO_UPDATE: 'off' },
    logDir: opts.dir,
    ready: httpReady(`${endpoint}/minio/health/ready`),
  });
  return { ...running, endpoint, accessKeyId, secretAccessKey, dataDir };
}
