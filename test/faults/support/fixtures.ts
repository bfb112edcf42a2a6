// Fixtures the fault tests share: a private etcd filled with incompressible keys (so the dump and upload take a
// known size), S3 buckets and their pending multipart uploads, registry upload sessions, and credential Secrets.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import * as k8s from '@kubernetes/client-node';
import { Etcd3 } from 'etcd3';
import type { SecretRef } from '../../../contracts/definitions';
import { adminKube } from '../../harness/temporal';
import { grantTo, uniqueName } from '../../harness/fixtures';

/** Writes `count` keys of `valueBytes` random bytes under `/registry/faults/`, with bounded concurrency. */
export async function fillEtcd(endpoint: string, count: number, valueBytes: number): Promise<void> {
  const etcd = new Etcd3({ hosts: endpoint });
  try {
    let next = 0;
    const writer = async () => {
      while (next < count) {
        const index = next++;
        await etcd.put(`/registry/faults/key-${String(index).padStart(6, '0')}`).value(randomBytes(valueBytes));
      }
    };
    await Promise.all(Array.from({ length: 32 }, writer));
  } finally {
    etcd.close();
  }
}

export interface S3Target {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export function s3Client(target: S3Target): S3Client {
  const { endpoint, accessKeyId, secretAccessKey } = target;
  return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
}

export async function createBucket(target: S3Target): Promise<string> {
  const bucket = uniqueName('faults');
  const s3 = s3Client(target);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  s3.destroy();
  return bucket;
}

/** Pending multipart uploads in the bucket, with how many parts each has stored. */
export async function pendingMultipartUploads(target: S3Target, bucket: string): Promise<{ key: string; parts: number }[]> {
  const s3 = s3Client(target);
  try {
    const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    return await Promise.all(
      (listed.Uploads ?? []).map(async (upload) => {
        const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }));
        return { key: upload.Key!, parts: parts.Parts?.length ?? 0 };
      }),
    );
  } finally {
    s3.destroy();
  }
}

export async function listKeys(target: S3Target, bucket: string): Promise<string[]> {
  const s3 = s3Client(target);
  try {
    return ((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key!).sort();
  } finally {
    s3.destroy();
  }
}

export async function getObject(target: S3Target, bucket: string, key: string): Promise<Buffer> {
  const s3 = s3Client(target);
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await object.Body!.transformToByteArray());
  } finally {
    s3.destroy();
  }
}

/** A repository's directory in a harness registry's storage. */
export function repositoryDir(registryStorageDir: string, repository: string): string {
  return join(registryStorageDir, 'docker', 'registry', 'v2', 'repositories', repository);
}

/**
 * Upload sessions the registry still holds for a repository, with the bytes each has received: distribution keeps
 * `_uploads/<id>/{data,startedat}` for a live session (as test/integration/storage.test.ts checks).
 */
export function openUploadSessions(repositoryDirectory: string): { id: string; bytes: number }[] {
  const uploads = join(repositoryDirectory, '_uploads');
  if (!existsSync(uploads)) return [];
  return readdirSync(uploads)
    .filter((id) => existsSync(join(uploads, id, 'data')) || existsSync(join(uploads, id, 'startedat')))
    .map((id) => ({ id, bytes: sizeIfPresent(join(uploads, id, 'data')) ?? 0 }));
}

/** A file's size, or undefined once it is gone: a server may remove a file between a listing and its stat. */
export function sizeIfPresent(path: string): number | undefined {
  return statSync(path, { throwIfNoEntry: false })?.size;
}

/** A namespace in the harness's host cluster with one Secret of `data`; returns its reference. */
export async function credentialSecret(data: Record<string, string>): Promise<SecretRef> {
  const core = adminKube().makeApiClient(k8s.CoreV1Api);
  const namespace = uniqueName('fault-creds');
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  // A namespace of its own, granted to the test clusters' namespace (team-a), as an operator would set it up.
  await core.createNamespacedSecret({ namespace, body: { metadata: { name: 'storage', ...grantTo('team-a') }, stringData: data } });
  return { name: 'storage', namespace };
}
