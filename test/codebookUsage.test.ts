import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VqcodecError } from '../src/errors.js';
import { codebookUsage, usageFromCounts } from '../src/eval/codebookUsage.js';

test('uniform use of all K codes: entropy log2 K, perplexity K, no dead codes', () => {
  for (const k of [1, 2, 16, 1024]) {
    const codes = Int32Array.from({ length: k * 3 }, (_, i) => i % k);
    const u = codebookUsage(codes, k);
    assert.ok(Math.abs(u.entropyBits - Math.log2(k)) < 1e-9);
    assert.ok(Math.abs(u.perplexity - k) < 1e-6 * k);
    assert.equal(u.deadCodes, 0);
    assert.equal(u.used, k);
    assert.ok(u.counts.every((c) => c === 3));
  }
});

test('a single code in use: entropy 0, perplexity 1, the rest dead', () => {
  const u = codebookUsage(new Int32Array(50).fill(7), 256);
  assert.equal(u.entropyBits, 0);
  assert.equal(u.perplexity, 1);
  assert.equal(u.used, 1);
  assert.equal(u.deadCodes, 255);
  assert.equal(u.counts[7], 50);
});

test('dead codes are counted and the entropy matches a hand computation', () => {
  // p = [1/2, 1/4, 1/4, 0, 0, 0, 0, 0] → H = 1.5 bits
  const u = codebookUsage(Int32Array.from([0, 0, 1, 2]), 8);
  assert.ok(Math.abs(u.entropyBits - 1.5) < 1e-12);
  assert.ok(Math.abs(u.perplexity - 2 ** 1.5) < 1e-12);
  assert.equal(u.used, 3);
  assert.equal(u.deadCodes, 5);
  assert.deepEqual(Array.from(u.counts), [2, 1, 1, 0, 0, 0, 0, 0]);
});

test('usageFromCounts agrees with codebookUsage and copies its input', () => {
  const codes = Int32Array.from({ length: 500 }, (_, i) => (i * i) % 37);
  const a = codebookUsage(codes, 64);
  const counts = Array.from(a.counts);
  const b = usageFromCounts(counts);
  assert.deepEqual(b, a);
  counts[0] = 999;
  assert.notEqual(b.counts[0], 999);
  // No counts at all: nothing used, entropy 0.
  const empty = usageFromCounts(new Int32Array(4));
  assert.equal(empty.entropyBits, 0);
  assert.equal(empty.used, 0);
  assert.equal(empty.deadCodes, 4);
});

test('out-of-range codes and bad sizes throw VqcodecError', () => {
  assert.throws(() => codebookUsage(Int32Array.from([0, 4]), 4), VqcodecError);
  assert.throws(() => codebookUsage(Int32Array.from([-1]), 4), VqcodecError);
  assert.throws(() => codebookUsage(new Int32Array(0), 0), VqcodecError);
  assert.throws(() => usageFromCounts([1, -2]), VqcodecError);
  assert.throws(() => usageFromCounts([1.5]), VqcodecError);
});
