// Inline storage credentials of a vcluster.yaml (S3 URL query options, OCI username/password). They never enter a
// policy: the worker re-reads them from the cluster's `vc-config-<name>` Secret when a run needs them.
import { parseDocument } from 'yaml';
import { decodeStdBase64, parseQuery } from './query';
import { getIn } from './values';

export interface InlineCredentials {
  s3?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  oci?: { username: string; password: string };
}

function autoSnapshotBlock(values: unknown): unknown {
  return getIn(values, ['snapshots', 'auto']) ?? getIn(values, ['external', 'platform', 'autoSnapshot']);
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export function inlineCredentialsOf(yamlText: string): InlineCredentials {
  const block = autoSnapshotBlock(parseDocument(yamlText, { version: '1.1' }).toJS({ maxAliasCount: 100 }));
  const found: InlineCredentials = {};
  const url = text(getIn(block, ['storage', 's3', 'url']));
  const query = url?.includes('?') ? parseQuery(url.slice(url.indexOf('?') + 1)).options : [];
  const option = (key: string) => {
    const raw = query.find((o) => o.key === key)?.value;
    return raw === undefined ? undefined : decodeStdBase64(raw);
  };
  const accessKeyId = option('access-key-id');
  const secretAccessKey = option('secret-access-key');
  if (accessKeyId && secretAccessKey) found.s3 = { accessKeyId, secretAccessKey, sessionToken: option('session-token') || undefined };
  const oci = getIn(block, ['storage', 'oci']);
  const username = text(getIn(oci, ['credential', 'username'])) ?? text(getIn(oci, ['username']));
  const password = text(getIn(oci, ['credential', 'password'])) ?? text(getIn(oci, ['password']));
  if (username && password) found.oci = { username, password };
  return found;
}
