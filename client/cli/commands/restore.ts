import { restoreSnapshot } from '../../restore';
import { UsageError, requiredArg, secretArg, snapshotSourceArgs } from '../args';
import type { ConnectedCommand } from '../command';
import { print } from '../output';

export const restoreCommand: ConnectedCommand = {
  name: 'restore',
  usage: 'restore SNAPSHOT --etcd URL [-n NS [--name CLUSTER]] [--tls-secret NS/NAME] [--force]',
  summary: 'verify, then write every key into the target etcd (refuses a non-empty one\nunless --force, which clears it first)',
  async run({ target, options, json }, connection) {
    const snapshot = requiredArg(target, 'restore: a SNAPSHOT is required');
    const endpoints = options.etcd;
    if (!endpoints?.length) throw new UsageError('restore: --etcd URL is required');
    const result = await restoreSnapshot(connection, snapshot, {
      ...snapshotSourceArgs(options),
      endpoints,
      tlsSecret: secretArg('tls-secret', options['tls-secret']),
      force: options.force,
    });
    const { keysRestored, bytesRestored } = result.restore;
    print(json, result, () => `restored ${keysRestored} keys (${bytesRestored} bytes) into ${endpoints.join(', ')}`);
    return 0;
  },
};
