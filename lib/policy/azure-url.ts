// `storage.azure.blobUrl`: vCluster's Azure Blob URL `https://<account>.blob.core.windows.net/<container>/<path>`
// (the account is the first label of the host, as vCluster's store reads it), or an emulator's path-style
// `http://127.0.0.1:10000/<account>/<container>/<path>`. Here it names a location: a container and an optional
// directory (prefix) the snapshots go into. A SAS token in the query is refused: it would be copied into schedules
// and histories; it belongs in the credential Secret.
import { isIP } from 'node:net';
import type { AzureLocation } from '../../contracts/definitions';

export type AzureTarget = Omit<AzureLocation, 'type' | 'credential'>;
export type AzureUrlResult = { ok: true; target: AzureTarget } | { ok: false; reasons: string[] };

const EXPECTED = 'https://<account>.blob.core.windows.net/<container>/<directory>';
// Azure's rules: accounts 3-24 lowercase letters and digits; containers 3-63 lowercase letters, digits and single
// hyphens, starting and ending with a letter or digit.
const ACCOUNT_NAME = /^[a-z0-9]{3,24}$/;
const CONTAINER_NAME = /^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

/** Emulators (Azurite) serve every account under one loopback host, the account being the first path segment. */
function isPathStyleHost(hostname: string): boolean {
  const bare = hostname.replace(/^\[|\]$/g, '');
  return isIP(bare) !== 0 || bare === 'localhost';
}

export function parseAzureBlobUrl(input: string): AzureUrlResult {
  const text = input.trim();
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text)?.[1]?.toLowerCase();
  if (scheme !== 'https' && scheme !== 'http') {
    // Only the scheme is echoed: the rest of a URL may hold a SAS.
    return { ok: false, reasons: [`must be an Azure Blob URL such as ${EXPECTED}${scheme ? `, got scheme "${scheme}"` : ''}`] };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, reasons: [`must be an Azure Blob URL such as ${EXPECTED}`] };
  }
  const reasons: string[] = [];
  if (url.search !== '') {
    reasons.push('must not carry a query: a SAS token in the URL is not supported (it would be kept in schedules and histories); put it in the credential Secret as AZURE_STORAGE_BLOB_SAS');
  }
  if (url.hash !== '') reasons.push('must not contain a fragment (#)');
  if (url.username !== '' || url.password !== '') reasons.push('must not carry a user name or password');
  const pathStyle = isPathStyleHost(url.hostname);
  if (scheme === 'http' && !pathStyle) reasons.push('must use https:// (http:// is accepted only for a loopback emulator such as Azurite)');
  let segments: string[];
  try {
    segments = url.pathname.split('/').filter((segment) => segment !== '').map((segment) => decodeURIComponent(segment));
  } catch {
    return { ok: false, reasons: [...reasons, 'invalid percent-encoding in the path'] };
  }
  const accountName = pathStyle ? segments.shift() ?? '' : url.hostname.split('.')[0];
  const container = segments.shift() ?? '';
  const prefix = segments.join('/');
  if (!ACCOUNT_NAME.test(accountName)) {
    const where = pathStyle ? 'the first path segment of an emulator URL' : 'the first label of the host';
    reasons.push(`invalid storage account name "${accountName}" in ${where} (3-24 lowercase letters and digits; expected ${EXPECTED})`);
  }
  if (container === '') reasons.push(`missing container (expected ${EXPECTED})`);
  else if (!CONTAINER_NAME.test(container)) {
    reasons.push(`invalid container name "${container}" (3-63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit)`);
  }
  if (prefix.endsWith('.tar.gz')) reasons.push('must name a container and directory, not an archive: snapshots are stored as <directory>/<name>.tar.gz');
  if (reasons.length > 0) return { ok: false, reasons };
  const serviceUrl = pathStyle ? `${url.protocol}//${url.host}/${accountName}` : `${url.protocol}//${url.host}`;
  return { ok: true, target: { serviceUrl, accountName, container, prefix } };
}
