// The one error vocabulary: every failure type the sources build is in contracts/errors.ts's table, no option
// block lists types by hand, and the helpers keep retryability and root causes as the table says.
import { strict as assert } from 'node:assert';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import { ERROR_TYPES, NON_RETRYABLE_ERROR_TYPES, failure, finalFailure, rootCause, rootMessage } from '../../contracts/errors';

const ROOT = join(__dirname, '..', '..');
const LAYERS = ['contracts', 'lib', 'activities', 'workflows', 'client', 'worker'];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

describe('error vocabulary (contracts/errors.ts)', () => {
  const files = LAYERS.flatMap((layer) => sources(join(ROOT, layer))).map((file) => ({ path: relative(ROOT, file), text: readFileSync(file, 'utf8') }));

  it('every failure() type in the sources is in the table, and the table has no unused type', () => {
    const used = new Set<string>();
    for (const { text } of files) {
      for (const match of text.matchAll(/\bfailure\(\s*'(\w+)'/g)) used.add(match[1]);
      for (const match of text.matchAll(/\betcdFailureOf\([^,]+,\s*'(\w+)'/g)) used.add(match[1]);
    }
    assert.ok(used.size >= 15, `found only ${[...used].join(', ')}`);
    for (const type of used) assert.ok(type in ERROR_TYPES, `${type} is thrown but not in ERROR_TYPES`);
    for (const type of Object.keys(ERROR_TYPES)) assert.ok(used.has(type), `${type} is in ERROR_TYPES but nothing throws it`);
  });

  it('no source builds an ApplicationFailure itself or lists non-retryable types by hand', () => {
    for (const { path, text } of files) {
      if (path === 'contracts/errors.ts') continue;
      assert.doesNotMatch(text, /ApplicationFailure\.(create|nonRetryable|retryable|fromError)\(|new ApplicationFailure\(/, path);
      const lists = [...text.matchAll(/nonRetryableErrorTypes:\s*([^,}\n]+)/g)].map((m) => m[1].trim());
      for (const list of lists) assert.equal(list, 'NON_RETRYABLE_ERROR_TYPES', `${path} lists its own non-retryable types: ${list}`);
    }
  });

  it('failure() is retryable exactly as the table says; NON_RETRYABLE_ERROR_TYPES is the non-retryable rows', () => {
    for (const [type, kind] of Object.entries(ERROR_TYPES)) {
      const built = failure(type as keyof typeof ERROR_TYPES, 'x');
      assert.equal(built.type, type);
      assert.equal(built.nonRetryable, !kind.retryable, type);
      assert.equal(NON_RETRYABLE_ERROR_TYPES.includes(type as keyof typeof ERROR_TYPES), !kind.retryable, type);
    }
    const final = finalFailure(failure('EtcdUnreachable', 'etcd at a:2379 is unreachable'));
    assert.deepEqual([final.type, final.nonRetryable, final.message], ['EtcdUnreachable', true, 'etcd at a:2379 is unreachable']);
  });

  it('rootCause unwraps Temporal wrappers down to the ApplicationFailure that says what happened', () => {
    const grpc = new Error('14 UNAVAILABLE: connection refused');
    const app = failure('EtcdReadFailed', `reading etcd at a:2379 failed: ${grpc.message}`, grpc);
    const wrapped = new ActivityFailure('activity failed', 'dumpAndStore', '1', RetryState.NON_RETRYABLE_FAILURE, undefined, app);
    assert.equal(rootCause(wrapped), app);
    assert.equal(rootMessage(wrapped), 'reading etcd at a:2379 failed: 14 UNAVAILABLE: connection refused');
    const plain = new Error('outer', { cause: new Error('inner') });
    assert.equal(rootMessage(plain), 'inner');
    assert.equal(rootMessage('text'), 'text');
    assert.ok(rootCause(ApplicationFailure.create({ message: 'm' })) instanceof ApplicationFailure);
  });
});
