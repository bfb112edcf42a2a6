// Client-side encryption of archives with age (https://age-encryption.org/v1) through the `age-encryption` package
// (typage, by age's author): X25519 recipients, ChaCha20-Poly1305 STREAM in 64 KiB chunks. Its streaming API takes
// and returns web streams; here they are adapted to the node streams the writer and the storage backends use, so an
// archive is encrypted while it streams (after gzip, before the sha256 of the stored bytes), in bounded memory.
// Readers never need to be told: an age file starts with its magic line, a gzip file with 1f 8b.
import { Duplex, PassThrough, Readable, pipeline } from 'node:stream';
import { Decrypter, Encrypter } from 'age-encryption';
import { z } from 'zod';
import { failure } from '../../contracts/errors';

/** age's first header line: every encrypted archive starts with these bytes. */
export const AGE_MAGIC = Buffer.from('age-encryption.org/v1\n');
/** A policy or a worker names a handful of keys; a long list is a mistake or an attack on the header's size. */
export const MAX_RECIPIENTS = 16;

// Bech32: "age1" + 52 characters of a 32-byte X25519 key + 6 of checksum, lowercase (age's own encoding).
const RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/;
const IDENTITY = /^AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$/;

export type { ArchiveEncryption } from '../../contracts/definitions';

/**
 * A recipient list, hostile input (a vc-config annotation, an environment variable): comma- or space-separated age
 * X25519 public keys, deduplicated. Errors name the entry's position and a short prefix, never more of the value.
 */
export const recipientListSchema = z
  .string()
  .max(MAX_RECIPIENTS * 64 * 2, { error: `too long: at most ${MAX_RECIPIENTS} age recipients` })
  .transform((text, ctx) => {
    const entries = text.split(/[\s,]+/).filter(Boolean);
    if (entries.length === 0) ctx.addIssue({ code: 'custom', message: 'names no recipient: give one or more age X25519 public keys (age1...)' });
    if (entries.length > MAX_RECIPIENTS) ctx.addIssue({ code: 'custom', message: `names ${entries.length} recipients, at most ${MAX_RECIPIENTS} are allowed` });
    entries.forEach((entry, index) => {
      if (RECIPIENT.test(entry)) return;
      const hint = entry.startsWith('AGE-SECRET-KEY-') ? 'is a private key (AGE-SECRET-KEY-...): give its public key (age-keygen -y), and keep the private key out of this setting' : `"${entry.slice(0, 8)}..." is not an age X25519 public key (age1 followed by 58 bech32 characters)`;
      ctx.addIssue({ code: 'custom', message: `recipient #${index + 1} ${hint}` });
    });
    return [...new Set(entries)];
  });

/** The recipient list, or a reason naming `field`. */
export function parseRecipients(text: string, field: string): { ok: true; recipients: string[] } | { ok: false; error: string } {
  const parsed = recipientListSchema.safeParse(text);
  if (parsed.success) return { ok: true, recipients: parsed.data };
  return { ok: false, error: `${field}: ${parsed.error.issues.map((issue) => issue.message).join('; ')}` };
}

/**
 * age identities (private keys) as an identity file holds them: one per line, `#` comments and blank lines ignored.
 * Errors name lines only: the text is a secret.
 */
export function parseIdentities(text: string, where: string): string[] {
  const identities: string[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (!IDENTITY.test(line)) throw failure('EncryptionKeyUnavailable', `${where}: line ${index + 1} is not an age X25519 identity (AGE-SECRET-KEY-1...)`);
    identities.push(line);
  });
  if (identities.length === 0) throw failure('EncryptionKeyUnavailable', `${where}: holds no age identity (AGE-SECRET-KEY-1... lines)`);
  return identities;
}

/** Recipients named once, in order: the worker's first, then the cluster's own. */
export function mergeRecipients(...lists: Array<readonly string[] | undefined>): string[] {
  return [...new Set(lists.flatMap((list) => list ?? []))];
}

const toBuffer = (chunk: Uint8Array): Buffer => (Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));

/**
 * `plain` encrypted to `recipients`, as it streams. Errors of `plain` (an aborted writer) fail the output, and a
 * consumer that destroys the output (an aborted upload) cancels `plain`.
 */
export function encryptingStream(plain: Readable, recipients: readonly string[]): Readable {
  const output = new PassThrough();
  const start = async () => {
    const encrypter = new Encrypter();
    for (const recipient of recipients) encrypter.addRecipient(recipient);
    const encrypted = await encrypter.encrypt(Readable.toWeb(plain) as ReadableStream<Uint8Array>);
    pipeline(Readable.fromWeb(encrypted as import('node:stream/web').ReadableStream<Uint8Array>), output, (err) => {
      if (err) plain.destroy(err);
    });
  };
  start().catch((err: unknown) => {
    const error = err instanceof Error ? err : new Error(String(err));
    plain.destroy(error);
    output.destroy(error);
  });
  return output;
}

/** Supplies the identities only when an archive turns out to be encrypted (the Secret is read then, not before). */
export type IdentitySource = () => Promise<string[]>;

/** A decryption that failed for lack of a key, as opposed to damaged data. */
export function isKeyFailure(err: unknown): boolean {
  return err instanceof Error && 'type' in err && (err as { type?: unknown }).type === 'EncryptionKeyUnavailable';
}

/** Damaged encrypted data (an age header that does not parse or check, a chunk that does not authenticate). */
const DECRYPT_ERROR_PREFIX = 'age decryption failed';

/**
 * A transform from stored archive bytes to gzip bytes: a plain archive passes through untouched; an age one is
 * decrypted with `identities` (asked for only then). No identity that opens it fails with `EncryptionKeyUnavailable`;
 * a changed byte anywhere fails the chunk it is in (each 64 KiB chunk is authenticated), with DECRYPT_ERROR_PREFIX.
 */
export function decryptingStream(identities: IdentitySource | undefined, what: string): Duplex {
  return Duplex.from(async function* (source: AsyncIterable<Buffer>) {
    const iterator = source[Symbol.asyncIterator]();
    let head = Buffer.alloc(0);
    while (head.length < AGE_MAGIC.length) {
      const next = await iterator.next();
      if (next.done) break;
      head = Buffer.concat([head, next.value]);
    }
    async function* rest(): AsyncGenerator<Buffer> {
      if (head.length > 0) yield head;
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
    }
    if (!head.subarray(0, AGE_MAGIC.length).equals(AGE_MAGIC)) {
      yield* rest();
      return;
    }
    if (!identities) throw failure('EncryptionKeyUnavailable', `${what} is encrypted (age), and no identity to decrypt it was given: configure the worker's VCSNAP_ENCRYPTION_IDENTITY_SECRET (vcsnap export: --identity FILE)`);
    const decrypter = new Decrypter();
    for (const identity of await identities()) decrypter.addIdentity(identity);
    let plain: ReadableStream<Uint8Array>;
    try {
      plain = await decrypter.decrypt(Readable.toWeb(Readable.from(rest(), { objectMode: false })) as ReadableStream<Uint8Array>);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (/no identity matched/.test(message)) {
        throw failure('EncryptionKeyUnavailable', `${what} is encrypted (age) to recipients none of the given identities matches: add the identity of the key it was encrypted to (an older one after a rotation) to the identity Secret`);
      }
      throw new Error(`${DECRYPT_ERROR_PREFIX}: the age header of ${what} is damaged (${message})`);
    }
    try {
      for await (const chunk of plain as AsyncIterable<Uint8Array>) yield toBuffer(chunk);
    } catch (err) {
      throw new Error(`${DECRYPT_ERROR_PREFIX}: ${what} was changed after it was encrypted (${err instanceof Error ? err.message : String(err)})`);
    }
  });
}
