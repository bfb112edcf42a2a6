import { exportSnapshot } from '../../export';
import { SnapshotActionError, resolveSnapshotRef } from '../../restore';
import { isSnapshotUrl, parseSnapshotRef } from '../../snapshot-ref';
import { connectFromEnvironment } from '../../connection';
import { UsageError, requiredArg, secretArg, snapshotSourceArgs } from '../args';
import type { OfflineCommand } from '../command';
import { print } from '../output';

export const exportCommand: OfflineCommand = {
  name: 'export',
  offline: true,
  usage: 'export SNAPSHOT -o FILE [--identity FILE | --identity-secret NS/NAME] [-n NS [--name CLUSTER]] [--secret NS/NAME]',
  summary: 'write the plain .tar.gz `vcluster restore` takes, decrypting an encrypted\nsnapshot here with an age identity file or Secret (checked against its record\nand verified before it takes its name); storage credentials from --secret or the\nAWS default chain',
  async run({ target, options }) {
    const snapshot = requiredArg(target, 'export: a SNAPSHOT is required');
    const output = options.output;
    if (!output || output === 'json' || output === 'table') throw new UsageError('export: -o FILE is required (where the plain .tar.gz goes)');
    if (options.identity && options['identity-secret']) throw new UsageError('export: give --identity or --identity-secret, not both');
    const source = snapshotSourceArgs(options);
    // A URL needs no Temporal; a catalog name is looked up in its cluster's schedule.
    const connection = isSnapshotUrl(snapshot) ? undefined : await connectFromEnvironment();
    try {
      const parsed = connection ? undefined : parseSnapshotRef(snapshot, source);
      if (parsed && !parsed.ok) throw new SnapshotActionError(`snapshot reference: ${parsed.reasons.join('; ')}`, 'BadSnapshotReference');
      const ref = parsed?.ok ? parsed.ref : await resolveSnapshotRef(connection!, snapshot, source);
      const result = await exportSnapshot(ref, { output, identityFile: options.identity, identitySecret: secretArg('identity-secret', options['identity-secret']) });
      const how = result.decrypted ? `decrypted from ${result.storedBytes} stored bytes, ` : '';
      print(options.json === true, result, () => `${result.output}: ${result.keys} keys, ${result.bytes} bytes (${how}sha256 ${result.sha256}); restore it with: vcluster restore <name> container://${result.output}`);
      return 0;
    } finally {
      await connection?.close();
    }
  },
};
