// Release-entry values (lib/policy/redact): every credential removed, everything else kept, still a valid policy.
import { strict as assert } from 'node:assert';
import { parsePolicy } from '../../lib/policy';
import { redactValues } from '../../lib/policy/redact';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('release values without credentials (lib/policy/redact)', () => {
  it('strips inline S3 and OCI credentials and secret fields under credential keys, keeping references and the rest', () => {
    const values = [
      '# the tenant comment stays',
      'controlPlane:',
      '  backingStore:',
      '    etcd:',
      '      deploy:',
      '        enabled: true',
      'snapshots:',
      '  auto:',
      '    schedule: "@daily"',
      '    storage:',
      '      type: s3',
      '      s3:',
      `        url: s3://bucket/prefix?region=eu-west-1&access-key-id=${b64('AKIAINLINE')}&secret-access-key=${b64('inline-secret-key')}&session-token=${b64('inline-session')}&force-path-style=true`,
      '        credential:',
      '          secretName: s3-creds',
      '          secretNamespace: team-a',
      'external:',
      '  platform:',
      '    autoSnapshot:',
      '      enabled: false',
      '      storage:',
      '        type: oci',
      '        oci:',
      '          repository: oci://ghcr.io/team/backups',
      '          username: robot',
      '          password: oci-inline-password',
      '          credential:',
      '            username: robot2',
      '            password: oci-credential-password',
      '',
    ].join('\n');
    const redacted = redactValues(values);
    for (const secret of ['inline-secret-key', 'inline-session', 'oci-inline-password', 'oci-credential-password', 'robot', b64('inline-secret-key'), b64('AKIAINLINE')]) {
      assert.ok(!redacted.includes(secret), `${secret} left in:\n${redacted}`);
    }
    assert.match(redacted, /# the tenant comment stays/);
    assert.match(redacted, /url: s3:\/\/bucket\/prefix\?region=eu-west-1&force-path-style=true/);
    assert.match(redacted, /secretName: s3-creds\n\s+secretNamespace: team-a/);
    assert.match(redacted, /repository: oci:\/\/ghcr.io\/team\/backups/);
    const parsed = parsePolicy(redacted, { name: 'demo', namespace: 'team-a' });
    assert.ok(parsed.ok && parsed.policy, JSON.stringify(parsed));
    assert.equal(parsed.policy.storage.type === 's3' && parsed.policy.storage.bucket, 'bucket');
  });

  it('strips a SAS token from an Azure blob URL, keeping the URL and the Secret reference', () => {
    const sas = 'sv=2024-01-01&ss=b&sig=c2VjcmV0LXNhcy1zaWduYXR1cmU%3D';
    const values = `snapshots:\n  auto:\n    schedule: "@daily"\n    storage:\n      azure:\n        blobUrl: https://acct1.blob.core.windows.net/snaps/team?${sas}\n        credential:\n          secretName: az\n`;
    const redacted = redactValues(values);
    assert.ok(!redacted.includes('sig='), redacted);
    assert.match(redacted, /blobUrl: https:\/\/acct1\.blob\.core\.windows\.net\/snaps\/team\n/);
    assert.match(redacted, /secretName: az/);
    assert.equal(parsePolicy(redacted, { name: 'demo', namespace: 'team-a' }).ok, true);
  });

  it('leaves values without credentials as they are, and gives nothing for unparsable YAML', () => {
    const plain = 'sync:\n  toHost:\n    pods:\n      enabled: true\n';
    assert.equal(redactValues(plain), plain);
    assert.equal(redactValues('a: [unclosed'), '');
  });
});
