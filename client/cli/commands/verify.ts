import { verifySnapshot, type VerifyResult } from '../../restore';
import { requiredArg, snapshotSourceArgs } from '../args';
import { reportCommand } from '../command';

function formatVerdict(result: VerifyResult): string {
  if (!result.ok) return `${result.url}: CORRUPT: ${result.problem?.message}`;
  // vCluster's embedded-etcd kind holds a database, not keys; `vcsnap restore` refuses it and says what to use.
  const content = result.kind === 'etcd-db' ? `an etcd database of ${result.databaseBytes} bytes (vCluster's embedded-etcd kind)` : `${result.keys} keys`;
  return `${result.url}: ok, ${content}, ${result.archiveBytes} bytes, sha256 ${result.sha256}`;
}

export const verifyCommand = reportCommand(
  {
    name: 'verify',
    usage: 'verify SNAPSHOT [-n NS [--name CLUSTER]] [--secret NS/NAME]',
    summary: "check an archive's digest and vCluster format; SNAPSHOT is a catalog name\n(with -n), an s3:// URL or an oci:// reference (with -n and --name: the cluster whose\nSecret grants apply)",
  },
  {
    fetch: ({ target, options }, connection) => verifySnapshot(connection, requiredArg(target, 'verify: a SNAPSHOT is required'), snapshotSourceArgs(options)),
    format: formatVerdict,
    exitCode: (result) => (result.ok ? 0 : 1),
  },
);
