import { randomBytes } from 'node:crypto';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { freePort, httpReady, startProcess, toolPath, type RunningProcess } from './process';

export interface RegistryServer extends RunningProcess {
  /** host:port */
  host: string;
  username?: string;
  password?: string;
  storageDir: string;
}

/** distribution/distribution v3 with deletes enabled; with `auth`, behind htpasswd (HTTP Basic challenge). */
export async function startRegistry(opts: {
  dir: string;
  name: string;
  auth?: { username: string; password: string };
  port?: number;
  /** Relative Location headers, so the registry also works behind a TLS front (it sees plain HTTP). */
  relativeUrls?: boolean;
}): Promise<RegistryServer> {
  const port = opts.port ?? (await freePort());
  const base = join(opts.dir, opts.name);
  const storageDir = join(base, 'storage');
  mkdirSync(storageDir, { recursive: true });
  const lines = [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storageDir}`,
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    `  secret: ${randomBytes(16).toString('hex')}`,
    ...(opts.relativeUrls ? ['  relativeurls: true'] : []),
  ];
  if (opts.auth) {
    const htpasswd = join(base, 'htpasswd');
    writeFileSync(htpasswd, `${opts.auth.username}:${bcrypt.hashSync(opts.auth.password, 10)}\n`);
    lines.push('auth:', '  htpasswd:', '    realm: vcsnap-test', `    path: ${htpasswd}`);
  }
  const configFile = join(base, 'config.yml');
  writeFileSync(configFile, lines.join('\n') + '\n');
  const host = `127.0.0.1:${port}`;
  const running = await startProcess({
    name: opts.name,
    command: toolPath('registry', 'REGISTRY_VERSION'),
    args: ['serve', configFile],
    env: { OTEL_TRACES_EXPORTER: 'none' },
    logDir: opts.dir,
    ready: httpReady(`http://${host}/v2/`, opts.auth ? [401] : [200]),
  });
  return { ...running, host, username: opts.auth?.username, password: opts.auth?.password, storageDir };
}
