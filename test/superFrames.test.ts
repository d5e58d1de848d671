/**
 * The prior's super-frames (src/prior/superFrames.ts): the layout of [4, 2, 1], dense ⇄ grid
 * round trips for several stride sets and partial tails, padding exactly where no window starts,
 * the first n codebooks as a prefix of the virtual ones, and the refusal of other strides.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { VqcodecError } from '../src/errors.js';
import { checkPriorStrides, fromSuperFrames, superFrameCount, superFrameLayout, toSuperFrames, virtualCodebookCount, virtualCodebooks } from '../src/prior/superFrames.js';
import { fromStreams, storedFrames } from '../src/tokens/codeStrides.js';
import { Random } from '../src/train/random.js';

const STRIDE_SETS = [[1], [1, 1, 1], [2, 1], [4, 2, 1], [4, 4, 2, 1], [8, 2, 2, 1], [2, 2], [8]];
const PAD = 99;

/** Dense codes of random stored streams (so each coarse code repeats over its window). */
function denseCodes(frames: number, strides: number[], seed: number): Int32Array {
  const random = new Random(seed);
  const streams = strides.map((s) => Int32Array.from({ length: storedFrames(frames, s) }, () => random.int(16)));
  return fromStreams(streams, frames, strides);
}

test('[4, 2, 1] has 7 virtual codebooks, codebook-major: (cb0@0), (cb1@0, cb1@2), (cb2@0..3)', () => {
  const layout = superFrameLayout([4, 2, 1]);
  assert.equal(layout.span, 4);
  assert.deepEqual(layout.codebook, [0, 1, 1, 2, 2, 2, 2]);
  assert.deepEqual(layout.offset, [0, 0, 2, 0, 1, 2, 3]);
  assert.deepEqual([1, 2, 3].map((n) => virtualCodebookCount([4, 2, 1], n)), [1, 3, 7]);
  assert.equal(virtualCodebooks({ numCodebooks: 2 }), 2);
  assert.equal(virtualCodebooks({ numCodebooks: 2, codeStrides: [4, 2] }), 3);
  // 6 frames: one whole super-frame and one of 2 frames (cb1@2 and cb2@2..3 start past the end).
  const frames = 6;
  const codes = fromStreams([[10, 11], [20, 21, 22], [30, 31, 32, 33, 34, 35]], frames, [4, 2, 1]);
  assert.deepEqual(Array.from(toSuperFrames(codes, 3, [4, 2, 1], PAD)), [10, 20, 21, 30, 31, 32, 33, 11, 22, PAD, 34, 35, PAD, PAD]);
});

test('dense → super-frames → dense is the identity, for many strides and lengths, partial tails included', () => {
  fc.assert(
    fc.property(fc.constantFrom(...STRIDE_SETS), fc.integer({ min: 1, max: 40 }), fc.integer(), (strides, frames, seed) => {
      const codes = denseCodes(frames, strides, seed);
      const grid = toSuperFrames(codes, strides.length, strides, PAD);
      const V = virtualCodebookCount(strides);
      assert.equal(grid.length, superFrameCount(frames, strides) * V);
      assert.deepEqual(fromSuperFrames(grid, frames, strides), codes);
      // Padding exactly where a window starts past the last frame; codes everywhere else.
      const { span, offset } = superFrameLayout(strides);
      grid.forEach((token, i) => assert.equal(token === PAD, Math.floor(i / V) * span + offset[i % V]! >= frames, `position ${i}`));
    }),
  );
});

test('the first n codebooks are the first V(n) virtual ones; wider codes give the same grid', () => {
  for (const strides of STRIDE_SETS) {
    const frames = 13;
    const codes = denseCodes(frames, strides, 3);
    const all = toSuperFrames(codes, strides.length, strides, PAD);
    const V = virtualCodebookCount(strides);
    for (let n = 1; n <= strides.length; n++) {
      const Vn = virtualCodebookCount(strides, n);
      const prefix = toSuperFrames(codes, strides.length, strides.slice(0, n), PAD);
      const expected = Array.from({ length: superFrameCount(frames, strides) }, (_, u) => Array.from(all.subarray(u * V, u * V + Vn))).flat();
      assert.deepEqual(Array.from(prefix), expected, `${strides} at ${n} codebooks`);
    }
  }
  assert.throws(() => toSuperFrames(new Int32Array(6), 2, [4, 2, 1], PAD), (e: unknown) => e instanceof VqcodecError && /models 3 codebooks; these codes have 2/.test(e.message));
});

test('checkPriorStrides accepts the strides modelled (a longer codec\'s prefix) and names both otherwise', () => {
  checkPriorStrides({ numCodebooks: 2, codeStrides: [4, 2] }, [4, 2, 1]);
  checkPriorStrides({ numCodebooks: 2 }, [1, 1, 1]);
  for (const [prior, tokens] of [[{ numCodebooks: 2, codeStrides: [4, 2] }, [1, 1, 1]], [{ numCodebooks: 2 }, [4, 2, 1]], [{ numCodebooks: 3, codeStrides: [4, 2, 1] }, [2, 2, 1]]] as const) {
    assert.throws(
      () => checkPriorStrides(prior, tokens),
      (e: unknown) => e instanceof VqcodecError && !e.message.includes('\n') && e.message.includes(`[${(prior.codeStrides ?? [1, 1]).join(', ')}]`) && e.message.includes(`[${tokens.slice(0, prior.numCodebooks).join(', ')}]`),
    );
  }
});
