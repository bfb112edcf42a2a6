// OCI registry backend in vCluster's artifact shape (SPEC section 7): tag `<name>` = a manifest of artifactType
// `application/vnd.loft.vcluster` with the empty config and one etcd layer holding the archive byte for byte.
// The metadata record is a second small manifest tagged `<name>.meta` with one JSON layer.
// No overwrite, as far as a registry allows: the OCI distribution API has no conditional manifest PUT (no
// If-None-Match, no immutable tags in `distribution`), so the tag is checked right before it is written and an
// existing one is never replaced. Two writers whose checks both pass within the one manifest round trip can still
// both write it; the layer is content-addressed, so the digest a record names always matches the bytes it points to.
import { addAbortSignal, type Readable } from 'node:stream';
import type { OciLocation, SnapshotRecord } from '../../contracts/definitions';
import {
  assertSnapshotName,
  badConfiguration,
  badCredentials,
  locationNotFound,
  mayReplaceRecord,
  nameTaken,
  objectNotFound,
  ownerFields,
  ownerOf,
  parseRecord,
  recordOwner,
  serializeRecord,
} from './common';
import { mapLimit } from '../concurrency';
import {
  OCI_EMPTY_BLOB,
  OCI_EMPTY_MEDIA_TYPE,
  OCI_MANIFEST_MEDIA_TYPE,
  RegistryClient,
  RegistryError,
  type Descriptor,
  type ImageManifest,
  type RegistryClientOptions,
} from './oci-registry';
import type { ArchiveListing, RegistryCredentials, SnapshotStore, StoredObject } from './types';

export const VCLUSTER_ARTIFACT_TYPE = 'application/vnd.loft.vcluster';
export const VCLUSTER_ETCD_LAYER_MEDIA_TYPE = 'application/vnd.loft.vcluster.etcd.v1.tar+gzip';
/**
 * An encrypted archive's layer: vCluster does not know it (so `vcluster restore` says the snapshot has no etcd layer
 * rather than reading ciphertext as gzip), and its `.age` title tells tools what it is.
 */
export const ENCRYPTED_ETCD_LAYER_MEDIA_TYPE = 'application/vnd.vcsnap.etcd.v1.tar+gzip+age';
export const RECORD_ARTIFACT_TYPE = 'application/vnd.vcsnap.record.v1+json';
export const RECORD_TAG_SUFFIX = '.meta';
const TITLE = 'org.opencontainers.image.title';
const CREATED = 'org.opencontainers.image.created';

export type OciStoreOptions = Pick<RegistryClientOptions, 'chunkSize' | 'retry' | 'requestTimeoutMs'> & {
  /** Clock for the `created` annotation. */
  now?: () => Date;
};

export function createOciStore(location: OciLocation, credentials?: RegistryCredentials, options: OciStoreOptions = {}): SnapshotStore {
  const { registry: host, repository, insecure } = location;
  const registry = new RegistryClient({ registry: host, repository, insecure, credentials, chunkSize: options.chunkSize, retry: options.retry, requestTimeoutMs: options.requestTimeoutMs });
  const now = options.now ?? (() => new Date());
  const archiveTag = (snapshotName: string): string => {
    assertSnapshotName(snapshotName);
    return snapshotName;
  };
  const urlFor = (snapshotName: string): string => `oci://${host}/${repository}:${archiveTag(snapshotName)}`;
  const recordTag = (snapshotName: string): string => {
    assertSnapshotName(snapshotName);
    return snapshotName + RECORD_TAG_SUFFIX;
  };
  const mapped = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      throw mapRegistryError(err, `${host}/${repository}`);
    }
  };
  /** Listing a repository nobody pushed to yet is an empty list, not an error. */
  const tags = (): Promise<string[]> =>
    registry.listTags().catch((err: unknown) => {
      if (err instanceof RegistryError && err.kind === 'repositoryNotFound') return [];
      throw err;
    });
  const emptyConfig = async (signal?: AbortSignal): Promise<Descriptor> => {
    const blob = await registry.pushBlob(OCI_EMPTY_BLOB, signal);
    return { mediaType: OCI_EMPTY_MEDIA_TYPE, ...blob };
  };
  const deleteTag = async (tag: string): Promise<void> => {
    const digest = await registry.resolveDigest(tag);
    if (digest) await registry.deleteManifest(digest);
  };
  const etcdLayer = (manifest: ImageManifest): Descriptor | undefined =>
    manifest.layers?.find((l) => l.mediaType === VCLUSTER_ETCD_LAYER_MEDIA_TYPE || l.mediaType === ENCRYPTED_ETCD_LAYER_MEDIA_TYPE);
  const isEncrypted = (layer: Descriptor): boolean => layer.mediaType === ENCRYPTED_ETCD_LAYER_MEDIA_TYPE;

  const store: SnapshotStore = {
    urlFor,

    putArchive: (snapshotName, archive, signal, options = {}) =>
      mapped(async (): Promise<StoredObject> => {
        const url = urlFor(snapshotName);
        try {
          await registry.ping(signal);
          for (const session of options.abandonedSessions ?? []) await registry.cancelAbandonedUpload(session, signal);
          const config = await emptyConfig(signal);
          const layer = await registry.pushBlobStream(signal ? addAbortSignal(signal, archive) : archive, signal, options);
          const manifest: ImageManifest = {
            schemaVersion: 2,
            mediaType: OCI_MANIFEST_MEDIA_TYPE,
            artifactType: VCLUSTER_ARTIFACT_TYPE,
            config,
            layers: [
              options.encrypted
                ? { mediaType: ENCRYPTED_ETCD_LAYER_MEDIA_TYPE, ...layer, annotations: { [TITLE]: `${snapshotName}.tar.gz.age` } }
                : { mediaType: VCLUSTER_ETCD_LAYER_MEDIA_TYPE, ...layer, annotations: { [TITLE]: 'etcd' } },
            ],
            annotations: { [CREATED]: now().toISOString().replace(/\.\d+Z$/, 'Z'), ...(options.owner && ownerAnnotations(ownerFields(options.owner))) },
          };
          signal?.throwIfAborted();
          const existing = await registry.getManifest(archiveTag(snapshotName), signal).catch(undefinedIfNoRepository);
          if (existing) throw nameTaken('archive', url, ownerOf(fieldsOf(existing.manifest.annotations)));
          await registry.putManifest(archiveTag(snapshotName), manifest, signal);
          return { snapshotName, url, bytes: layer.size, sha256: layer.digest.slice('sha256:'.length) };
        } catch (err) {
          archive.destroy();
          throw signal?.aborted ? signal.reason : err;
        }
      }),

    archiveOwner: (snapshotName) =>
      mapped(async () => {
        const found = await registry.getManifest(archiveTag(snapshotName)).catch(undefinedIfNoRepository);
        return found && etcdLayer(found.manifest) ? { owner: ownerOf(fieldsOf(found.manifest.annotations)) } : undefined;
      }),

    headArchive: (snapshotName) =>
      mapped(async () => {
        const found = await registry.getManifest(archiveTag(snapshotName)).catch(undefinedIfNoRepository);
        const layer = found && etcdLayer(found.manifest);
        return layer && { bytes: layer.size, ...(isEncrypted(layer) ? { encrypted: true } : {}) };
      }),

    getArchive: (snapshotName) =>
      mapped(async (): Promise<Readable> => {
        const found = await registry.getManifest(archiveTag(snapshotName));
        const layer = found && etcdLayer(found.manifest);
        if (layer) return registry.pullBlob(layer.digest);
        // Registries answer MANIFEST_UNKNOWN for a tag of a missing repository too; the tag list tells them apart.
        if (!found) await registry.listTags();
        throw objectNotFound(`snapshot archive ${urlFor(snapshotName)} does not exist`);
      }),

    listArchives: () =>
      mapped(async () => {
        const archiveTags = (await tags()).filter((tag) => !tag.endsWith(RECORD_TAG_SUFFIX));
        // Like `vcluster snapshot list`: a tag is a snapshot when its manifest has the etcd layer.
        const listings = await mapLimit(archiveTags, 8, async (tag): Promise<ArchiveListing | undefined> => {
          const found = await registry.getManifest(tag);
          const layer = found && etcdLayer(found.manifest);
          return layer && { snapshotName: tag, url: urlFor(tag), bytes: layer.size, lastModified: found.manifest.annotations?.[CREATED], ...(isEncrypted(layer) ? { encrypted: true } : {}) };
        });
        return listings.filter((listing) => listing !== undefined);
      }),

    deleteArchive: (snapshotName) => mapped(() => deleteTag(archiveTag(snapshotName))),

    putRecord: (record: SnapshotRecord, options) =>
      mapped(async () => {
        const tag = recordTag(record.snapshotName);
        const stored = await store.getRecord(record.snapshotName);
        if (stored && !mayReplaceRecord(stored, record, options)) throw nameTaken('metadata record', `oci://${host}/${repository}:${tag}`, recordOwner(stored));
        const config = await emptyConfig();
        const layer = await registry.pushBlob(serializeRecord(record));
        await registry.putManifest(tag, {
          schemaVersion: 2,
          mediaType: OCI_MANIFEST_MEDIA_TYPE,
          artifactType: RECORD_ARTIFACT_TYPE,
          config,
          layers: [{ mediaType: RECORD_ARTIFACT_TYPE, ...layer, annotations: { [TITLE]: `${record.snapshotName}.json` } }],
          annotations: { [CREATED]: now().toISOString().replace(/\.\d+Z$/, 'Z') },
        });
      }),

    getRecord: (snapshotName) =>
      mapped(async () => {
        const tag = recordTag(snapshotName);
        const found = await registry.getManifest(tag).catch(undefinedIfNoRepository);
        const layer = found?.manifest.layers?.find((l) => l.mediaType === RECORD_ARTIFACT_TYPE);
        if (!layer) return undefined;
        const chunks: Buffer[] = [];
        for await (const chunk of await registry.pullBlob(layer.digest)) chunks.push(chunk as Buffer);
        return parseRecord(Buffer.concat(chunks).toString('utf8'), `oci://${host}/${repository}:${tag}`);
      }),

    listRecords: () =>
      mapped(async () => {
        const recordTags = (await tags()).filter((tag) => tag.endsWith(RECORD_TAG_SUFFIX));
        const records = await mapLimit(recordTags, 8, (tag) => store.getRecord(tag.slice(0, -RECORD_TAG_SUFFIX.length)));
        return records.filter((record) => record !== undefined);
      }),

    deleteRecord: (snapshotName) => mapped(() => deleteTag(recordTag(snapshotName))),
  };
  return store;
}

const OWNER_ANNOTATION_PREFIX = 'io.vcsnap.';

/** `vcsnap-cluster` -> `io.vcsnap.cluster`: annotation keys in reverse-domain form. */
function ownerAnnotations(fields: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(fields).map(([key, value]) => [OWNER_ANNOTATION_PREFIX + key.replace(/^vcsnap-/, ''), value]));
}

function fieldsOf(annotations: Record<string, string> | undefined): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [key, value] of Object.entries(annotations ?? {})) if (key.startsWith(OWNER_ANNOTATION_PREFIX)) fields[`vcsnap-${key.slice(OWNER_ANNOTATION_PREFIX.length)}`] = value;
  return fields;
}

function undefinedIfNoRepository(err: unknown): undefined {
  if (err instanceof RegistryError && err.kind === 'repositoryNotFound') return undefined;
  throw err;
}

function mapRegistryError(err: unknown, repository: string): unknown {
  if (!(err instanceof RegistryError)) return err;
  switch (err.kind) {
    case 'unauthorized':
    case 'denied':
      return badCredentials(`${err.message}: check the registry username and password for ${repository}`, err);
    case 'repositoryNotFound':
      return locationNotFound(`OCI repository ${repository} does not exist (${err.message})`, err);
    case 'refused':
      return badConfiguration(err.message, err);
    case 'unsupported':
      return badConfiguration(`${err.message}: the registry does not allow this operation (deletes may be disabled)`, err);
    default:
      return err;
  }
}
