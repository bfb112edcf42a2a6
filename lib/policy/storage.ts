// `storage`: which backend, and where in it. Only the selected backend's block is validated: full Helm values
// carry empty defaults for the others.
import { z } from 'zod';
import path from 'node:path';
import type { AzureLocation, FileLocation, OciLocation, S3Location, StorageLocation } from '../../contracts/definitions';
import { parseAzureBlobUrl } from './azure-url';
import { hasSecretName, resolveSecretRef, secretRefSchema, secretRefShape } from './credentials';
import { mapping, optionalBoolean, optionalMapping, optionalString, reporter, requiredString, type Report } from './fields';
import { parseOciRepository } from './oci-url';
import { parseS3Url } from './s3-url';
import { hasSettings } from './values';

const STORAGE_TYPES = ['s3', 'oci', 'container', 'azure'] as const;
type StorageType = (typeof STORAGE_TYPES)[number];
/** Which vcluster.yaml block the storage is in: vCluster reads Azure storage from `snapshots.auto` only. */
export type StorageForm = 'legacy' | 'current';
const LEGACY_AZURE = 'external.platform.autoSnapshot has no Azure storage in vCluster (its legacy type knows s3, oci and container); use snapshots.auto for Azure Blob storage';

function s3Schema(clusterNamespace: string) {
  return mapping({
    url: requiredString().transform((url, ctx) => {
      const parsed = parseS3Url(url.trim());
      if (parsed.ok) return parsed.target;
      for (const reason of parsed.reasons) ctx.addIssue({ code: 'custom', message: reason });
      return z.NEVER;
    }),
    credential: secretRefSchema(clusterNamespace).nullish(),
  }).transform(({ url, credential }): S3Location => ({ type: 's3', ...url, ...(credential ? { credential } : {}) }));
}

function ociSchema(clusterNamespace: string) {
  return mapping({
    repository: requiredString().transform((repository, ctx) => {
      const parsed = parseOciRepository(repository);
      if (parsed.ok) return parsed.target;
      for (const reason of parsed.reasons) ctx.addIssue({ code: 'custom', message: reason });
      return z.NEVER;
    }),
    credential: optionalMapping({ ...secretRefShape, username: optionalString(), password: optionalString() }),
    username: optionalString(),
    password: optionalString(),
    insecure: optionalBoolean(),
  }).transform((oci, ctx): OciLocation => {
      const report = reporter(ctx);
      const { insecure: insecureInUrl, ...where } = oci.repository;
      const location: OciLocation = { type: 'oci', ...where };
      if (insecureInUrl || oci.insecure === true) location.insecure = true;
      const inline = resolveInlineCredential(oci, report);
      const credential = oci.credential;
      if (credential && hasSecretName(credential)) {
        if (inline) report(['credential'], 'set either a Secret reference (secretName/secretNamespace) or username/password, not both');
        const ref = resolveSecretRef(credential, clusterNamespace, reporter(ctx, ['credential']));
        if (ref) location.credential = ref;
      } else if (credential && !inline && credential.username === undefined && credential.password === undefined) {
        report(['credential'], 'must name a Secret (secretName/secretNamespace) or give username and password');
      }
      if (inline) location.inlineCredential = true;
      return location;
    });
}

interface InlineFields {
  credential?: { username?: string; password?: string } | null;
  username?: string;
  password?: string;
}

/** True when a complete inline username/password is configured; the values themselves are dropped here. */
function resolveInlineCredential(oci: InlineFields, report: Report): boolean {
  const nested = oci.credential?.username !== undefined || oci.credential?.password !== undefined;
  const base = nested ? ['credential'] : [];
  const username = nested ? oci.credential?.username : oci.username;
  const password = nested ? oci.credential?.password : oci.password;
  if (username === undefined && password === undefined) return false;
  if (username === undefined) report([...base, 'username'], 'required when a password is given');
  if (password === undefined) report([...base, 'password'], 'required when a username is given');
  return username !== undefined && password !== undefined;
}

const CONTAINER_VOLUME =
  'vCluster mounts that volume into its own pod; this worker stores snapshots in a directory of its own: mount the volume into the worker and set storage.container.path to its mount point';

const containerSchema = mapping({ path: requiredString() }, { volume: CONTAINER_VOLUME })
  .transform(({ path: directory }, ctx): FileLocation => {
    const trimmed = directory.trim();
    if (!trimmed.startsWith('/')) {
      ctx.addIssue({ code: 'custom', path: ['path'], message: `must be an absolute path, got "${trimmed}"` });
      return z.NEVER;
    }
    const normalized = path.posix.normalize(trimmed);
    return { type: 'container', path: normalized.length > 1 ? normalized.replace(/\/+$/, '') : normalized };
  });

/** `blobUrl` and a credential Secret (account key or SAS): the worker has no Azure identity of its own to fall back on. */
function azureSchema(clusterNamespace: string) {
  return mapping({
    blobUrl: requiredString('required (https://<account>.blob.core.windows.net/<container>/<directory>)').transform((url, ctx) => {
      const parsed = parseAzureBlobUrl(url);
      if (parsed.ok) return parsed.target;
      for (const reason of parsed.reasons) ctx.addIssue({ code: 'custom', message: reason });
      return z.NEVER;
    }),
    credential: z.unknown().transform((value, ctx) => {
      if (value === undefined || value === null) {
        ctx.addIssue({ code: 'custom', message: 'required: a Secret (secretName/secretNamespace) holding AZURE_STORAGE_KEY or AZURE_STORAGE_BLOB_SAS' });
        return z.NEVER;
      }
      const parsed = secretRefSchema(clusterNamespace).safeParse(value);
      if (parsed.success) return parsed.data;
      for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
      return z.NEVER;
    }),
  }).transform(({ blobUrl, credential }): AzureLocation => ({ type: 'azure', ...blobUrl, credential }));
}

function backendSchema(type: StorageType, clusterNamespace: string): z.ZodType<StorageLocation> {
  if (type === 's3') return s3Schema(clusterNamespace);
  if (type === 'oci') return ociSchema(clusterNamespace);
  if (type === 'azure') return azureSchema(clusterNamespace);
  return containerSchema;
}

export function storageSchema(clusterNamespace: string, form: StorageForm = 'current') {
  const backends = { type: optionalString(), s3: z.unknown().optional(), oci: z.unknown().optional(), container: z.unknown().optional() };
  const shape = form === 'current' ? { ...backends, azure: z.unknown().optional() } : backends;
  return z
    .unknown()
    .refine((value) => value !== undefined && value !== null, { error: "required (storage.type s3, oci, container or azure, and its settings)", abort: true })
    .pipe(mapping(shape, form === 'legacy' ? { azure: LEGACY_AZURE } : {}))
    .transform((storage, ctx): StorageLocation => {
      if (form === 'legacy' && storage.type === 'azure') {
        ctx.addIssue({ code: 'custom', path: ['type'], message: `azure is not supported here: ${LEGACY_AZURE}` });
        return z.NEVER;
      }
      const type = selectType(storage, ctx);
      if (type === undefined) return z.NEVER;
      const parsed = backendSchema(type, clusterNamespace).safeParse(storage[type] ?? {});
      if (parsed.success) return parsed.data;
      for (const issue of parsed.error.issues) {
        ctx.addIssue({ code: 'custom', path: [type, ...issue.path], message: issue.message });
      }
      return z.NEVER;
    });
}

/** `storage.type`, or the one configured backend when the type is left out. */
function selectType(storage: Record<string, unknown> & { type?: string }, ctx: z.RefinementCtx): StorageType | undefined {
  if (storage.type !== undefined) {
    if ((STORAGE_TYPES as ReadonlyArray<string>).includes(storage.type)) return storage.type as StorageType;
    ctx.addIssue({ code: 'custom', path: ['type'], message: `must be one of ${STORAGE_TYPES.join(', ')}, got "${storage.type}"` });
    return undefined;
  }
  const configured = STORAGE_TYPES.filter((type) => hasSettings(storage[type]));
  if (configured.length === 1) return configured[0];
  const message =
    configured.length === 0
      ? `required (${STORAGE_TYPES.join(', ')}); no storage backend is configured`
      : `required when more than one backend is configured (found ${configured.join(', ')})`;
  ctx.addIssue({ code: 'custom', path: ['type'], message });
  return undefined;
}
