// Client-side encryption (lib/archive/encryption): recipient and identity parsing of hostile input, the streaming
// round trip through the archive reader, key rotation, tampering, missing keys, and that encrypting keeps memory
// bounded (a slow consumer stops the producer).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { ApplicationFailure } from '@temporalio/common';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { AGE_MAGIC, decryptingStream, encryptingStream, parseIdentities, parseRecipients } from '../../lib/archive/encryption';
import { verifyArchive } from '../../lib/archive/verify';
import { createArchiveWriter } from '../../lib/archive/writer';
import { loadRuntimeConfig } from '../../lib/runtime-config';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { policyFor } from '../../lib/policy';

async function keyPair(): Promise<{ identity: string; recipient: string }> {
  const identity = await generateIdentity();
  return { identity, recipient: await identityToRecipient(identity) };
}

const SECRET_VALUE = 'tenant-password-Zq8v1Lw0';
const ENTRIES: Array<[string, Buffer]> = [
  ['/registry/configmaps/default/a', Buffer.from('{"kind":"ConfigMap"}')],
  ['/registry/secrets/default/db', Buffer.from(`{"kind":"Secret","data":{"password":"${SECRET_VALUE}"}}`)],
];

async function encryptedArchive(recipients: string[]): Promise<Buffer> {
  const writer = createArchiveWriter();
  const output = buffer(encryptingStream(writer.stream, recipients));
  for (const [name, body] of ENTRIES) await writer.addEntry(name, body);
  await writer.finish();
  return output;
}

function failureType(err: unknown): string | undefined {
  return err instanceof ApplicationFailure ? (err.type ?? undefined) : undefined;
}

describe('archive encryption (age)', () => {
  it('accepts age X25519 recipients, comma- or space-separated, and deduplicates them', async () => {
    const [a, b] = [await keyPair(), await keyPair()];
    const parsed = parseRecipients(`${a.recipient}, ${b.recipient}\n${a.recipient}`, 'VCSNAP_ENCRYPTION_RECIPIENTS');
    assert.deepEqual(parsed, { ok: true, recipients: [a.recipient, b.recipient] });
  });

  it('refuses bad recipient lists naming the field and the entry, and never echoes a private key', async () => {
    const { identity } = await keyPair();
    const privateKey = parseRecipients(identity, 'annotation vcsnap.io/encryption-recipients');
    assert.equal(privateKey.ok, false);
    assert.match(!privateKey.ok ? privateKey.error : '', /^annotation vcsnap.io\/encryption-recipients: recipient #1 is a private key/);
    assert.ok(!(!privateKey.ok && privateKey.error.includes(identity.slice(16))), 'the private key must not be echoed');
    const garbage = parseRecipients('age1notakey', 'VCSNAP_ENCRYPTION_RECIPIENTS');
    assert.match(!garbage.ok ? garbage.error : '', /recipient #1 "age1nota\.\.\." is not an age X25519 public key/);
    assert.match((parseRecipients(' , ', 'X') as { error: string }).error, /names no recipient/);
    const many = Array.from({ length: 17 }, () => 'age1' + 'q'.repeat(58)).join(',');
    assert.match((parseRecipients(many, 'X') as { error: string }).error, /at most 16/);
  });

  it('reads the worker settings from the environment, refusing a bad recipient list at start', async () => {
    const { recipient } = await keyPair();
    const config = loadRuntimeConfig({ VCSNAP_ENCRYPTION_RECIPIENTS: recipient, VCSNAP_ENCRYPTION_IDENTITY_SECRET: 'vcsnap/age-identities' });
    assert.deepEqual(config.encryptionRecipients, [recipient]);
    assert.deepEqual(config.encryptionIdentitySecret, { namespace: 'vcsnap', name: 'age-identities' });
    assert.equal(loadRuntimeConfig({}).encryptionRecipients, undefined);
    assert.throws(() => loadRuntimeConfig({ VCSNAP_ENCRYPTION_RECIPIENTS: 'ssh-ed25519 AAAA' }), /^Error: VCSNAP_ENCRYPTION_RECIPIENTS: recipient #1 "ssh-ed25\.\.\." is not an age X25519 public key/);
  });

  it('reads identity files (comments, blank lines) and names only the line of a bad one', async () => {
    const [a, b] = [await keyPair(), await keyPair()];
    assert.deepEqual(parseIdentities(`# created 2026\n${a.identity}\n\n${b.identity}\n`, 'Secret x/y'), [a.identity, b.identity]);
    const leaked = `${a.identity}\nAGE-SECRET-KEY-1SHORTLEAKED`;
    assert.throws(() => parseIdentities(leaked, 'Secret x/y'), (err: Error) => {
      assert.equal(failureType(err), 'EncryptionKeyUnavailable');
      assert.match(err.message, /^Secret x\/y: line 2 is not an age X25519 identity/);
      assert.ok(!err.message.includes('SHORTLEAKED') && !err.message.includes(a.identity));
      return true;
    });
    assert.throws(() => parseIdentities('# nothing\n', 'Secret x/y'), /holds no age identity/);
  });

  it('encrypts the archive as it streams: age bytes only, verified and digested as stored, decrypted on the way', async () => {
    const { identity, recipient } = await keyPair();
    const stored = await encryptedArchive([recipient]);
    assert.ok(stored.subarray(0, AGE_MAGIC.length).equals(AGE_MAGIC), 'an age file');
    assert.equal(stored.indexOf(SECRET_VALUE), -1, 'no plaintext value in the stored bytes');
    let asked = 0;
    const report = await verifyArchive(Readable.from([stored]), createHash('sha256').update(stored).digest('hex'), {
      identities: async () => {
        asked++;
        return [identity];
      },
    });
    assert.equal(report.problem, undefined);
    assert.equal(report.ok, true);
    assert.equal(report.keys, 2);
    assert.equal(report.archiveBytes, stored.length, 'counts are of the stored bytes');
    assert.equal(asked, 1);
  });

  it('passes a plain archive through without asking for identities', async () => {
    const writer = createArchiveWriter();
    const output = buffer(writer.stream);
    for (const [name, body] of ENTRIES) await writer.addEntry(name, body);
    await writer.finish();
    const plain = await output;
    const decrypted = await buffer(Readable.from([plain]).pipe(decryptingStream(() => Promise.reject(new Error('must not be asked')), 'x')));
    assert.ok(decrypted.equals(plain));
  });

  it('after a rotation, opens archives of the old key and of the new one with both identities', async () => {
    const [old, fresh] = [await keyPair(), await keyPair()];
    const identities = async () => [fresh.identity, old.identity];
    for (const archive of [await encryptedArchive([old.recipient]), await encryptedArchive([fresh.recipient])]) {
      assert.equal((await verifyArchive(Readable.from([archive]), undefined, { identities })).ok, true);
    }
    // The new identity alone cannot open the old archive.
    const oldArchive = await encryptedArchive([old.recipient]);
    await assert.rejects(verifyArchive(Readable.from([oldArchive]), undefined, { identities: async () => [fresh.identity], what: 'snapshot demo-1' }), (err: Error) => {
      assert.equal(failureType(err), 'EncryptionKeyUnavailable');
      assert.match(err.message, /^snapshot demo-1 is encrypted \(age\) to recipients none of the given identities matches/);
      return true;
    });
  });

  it('fails clearly without any identity', async () => {
    const { recipient } = await keyPair();
    await assert.rejects(verifyArchive(Readable.from([await encryptedArchive([recipient])]), undefined, { what: 'snapshot demo-2' }), (err: Error) => {
      assert.equal(failureType(err), 'EncryptionKeyUnavailable');
      assert.match(err.message, /snapshot demo-2 is encrypted \(age\), and no identity to decrypt it was given/);
      return true;
    });
  });

  it('reports a changed byte of the payload as an encryption problem, not as readable data', async () => {
    const { identity, recipient } = await keyPair();
    const stored = Buffer.from(await encryptedArchive([recipient]));
    stored[stored.length - 20] ^= 0x01;
    const report = await verifyArchive(Readable.from([stored]), undefined, { identities: async () => [identity] });
    assert.equal(report.ok, false);
    assert.equal(report.problem?.kind, 'encryption');
    assert.match(report.problem?.message ?? '', /was changed after it was encrypted/);
  });

  it('keeps memory bounded: a consumer that stops reading stops the producer', async () => {
    const { recipient } = await keyPair();
    const chunk = Buffer.alloc(256 * 1024, 7);
    let produced = 0;
    const source = new Readable({
      read() {
        produced += chunk.length;
        this.push(produced > 256 * 1024 * 1024 ? null : chunk);
      },
    });
    const encrypted = encryptingStream(source, [recipient]);
    let consumed = 0;
    for await (const piece of encrypted) {
      consumed += (piece as Buffer).length;
      if (consumed > 4 * 1024 * 1024) break;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok(produced < 32 * 1024 * 1024, `read ${produced} bytes ahead of a consumer that stopped after ${consumed}`);
    source.destroy();
  });

  it('refuses the request engine for a cluster with recipients: vCluster would store its archive in the clear', async () => {
    const { recipient } = await keyPair();
    const policy = policyFor({ name: 'demo', namespace: 'team-a' }, { schedule: '@hourly', storage: { type: 'container', path: '/snapshots' }, etcdEndpoints: [] }, { engine: 'request', encryption: { recipients: [recipient] } });
    const { snapshotByRequest } = createActivities({});
    const args: Parameters<typeof snapshotByRequest> = [{ policy, snapshotName: 'demo-2026-11-23T12-00-00Z', nominalTime: '2026-11-23T12:00:00Z' }];
    const env = new MockActivityEnvironment({}, { logger: new DefaultLogger('ERROR') });
    await assert.rejects(env.run<typeof args, unknown, typeof snapshotByRequest>(snapshotByRequest, ...args), (err: Error) => {
      assert.equal(failureType(err), 'StorageBadConfiguration');
      assert.match(err.message, /^cluster team-a\/demo: encryption is configured, but under the request engine vCluster stores its own archive unencrypted/);
      return true;
    });
  });
});
