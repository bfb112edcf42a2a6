// Runs scripts/go/vcluster-compat, vCluster's own snapshot and restore code (built by scripts/install-servers.sh into
// a cache dir keyed by the vCluster version and a hash of the program's source).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR, versions } from './process';
import type { EtcdTls } from './etcd';

const SOURCE = join(__dirname, '..', 'go', 'vcluster-compat', 'main.go');

export function vclusterCompatBinary(): string {
  const hash = createHash('sha256').update(readFileSync(SOURCE)).digest('hex').slice(0, 12);
  return join(CACHE_DIR, `vcluster-compat-${versions().VCLUSTER_VERSION}-${hash}`, 'vcluster-compat');
}

/** The flags that point vCluster's code at an external etcd over TLS with a client certificate. */
export function etcdFlags(endpoint: string, tls: EtcdTls): string[] {
  return ['--etcd-endpoint', endpoint.replace(/^https:\/\//, ''), '--etcd-ca', tls.caFile, '--etcd-cert', tls.certFile, '--etcd-key', tls.keyFile];
}

/**
 * Runs one vcluster-compat command; resolves with its stdout, rejects with the tail of its output (less klog's info lines). `env` adds to a
 * minimal environment (PATH, HOME and TMPDIR only), so credentials reach it only where a test passes them.
 */
export function runVclusterCompat(args: string[], options: { env?: NodeJS.ProcessEnv; input?: Buffer } = {}): Promise<Buffer> {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: process.env.TMPDIR, ...options.env };
  return new Promise((resolve, reject) => {
    const child = execFile(vclusterCompatBinary(), args, { env, encoding: 'buffer', maxBuffer: 256 * 1024 * 1024, timeout: 600_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`vcluster-compat ${args[0]} failed (${err.message.split('\n')[0]}):\n${stderr.toString('utf8').split('\n').filter((line) => !/^I\d{4} /.test(line)).slice(-15).join('\n')}`));
      else resolve(stdout);
    });
    child.stdin?.end(options.input ?? Buffer.alloc(0));
  });
}
