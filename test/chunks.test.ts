/**
 * The chunk planner (src/chunks.ts) and the streams' sliding buffer: every frame kept exactly
 * once, reads within the input and with the whole context, and a stream that learns the total
 * only at its end plans the same chunks as the one-shot coder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { chunkAt, chunkPlan, firstFrameRead, planChunks, readyChunks, type Chunk, type ChunkPlan } from '../src/chunks.js';
import { VqcodecError } from '../src/errors.js';
import { SlidingBuffer } from '../src/slidingBuffer.js';

/** A plan with a chunk size and a context of each side, either of which may exceed the chunk. */
const planArb = fc
  .record({ chunkFrames: fc.integer({ min: 1, max: 40 }), before: fc.integer({ min: 0, max: 60 }), after: fc.integer({ min: 0, max: 60 }) })
  .map(({ chunkFrames, before, after }) => chunkPlan({ before, after }, chunkFrames));

/** The invariants of a plan of `frames` frames; returns its chunks. */
function checkPlan(frames: number, plan: ChunkPlan): Chunk[] {
  const chunks = [...planChunks(frames, plan)];
  let next = 0;
  for (const [i, c] of chunks.entries()) {
    const where = `chunk ${i} ${JSON.stringify(c)} of ${frames} frames, plan ${JSON.stringify(plan)}`;
    assert.equal(c.keepFrom, next, `kept frames follow on: ${where}`);
    assert.ok(c.keepTo > c.keepFrom, `keeps something: ${where}`);
    const last = i === chunks.length - 1;
    assert.equal(c.keepTo - c.keepFrom, last ? frames - c.keepFrom : plan.chunkFrames, `chunk size: ${where}`);
    assert.ok(c.lo >= 0 && c.hi <= frames, `reads within the input: ${where}`);
    assert.equal(c.keepFrom - c.lo, Math.min(plan.context.before, c.keepFrom), `left context: ${where}`);
    assert.equal(c.hi - c.keepTo, Math.min(plan.context.after, frames - c.keepTo), `right context: ${where}`);
    next = c.keepTo;
  }
  assert.equal(next, frames, 'every frame is kept');
  return chunks;
}

test('every frame is kept exactly once, read with its whole context, within the input', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 400 }), planArb, (frames, plan) => void checkPlan(frames, plan)));
});

test('edge cases: fewer frames than a chunk, a multiple of the chunk, context longer than a chunk', () => {
  const plan = chunkPlan({ before: 3, after: 2 }, 10);
  assert.deepEqual(checkPlan(4, plan), [{ lo: 0, hi: 4, keepFrom: 0, keepTo: 4 }]);
  assert.deepEqual(checkPlan(1, plan), [{ lo: 0, hi: 1, keepFrom: 0, keepTo: 1 }]);
  assert.deepEqual(checkPlan(30, plan), [
    { lo: 0, hi: 12, keepFrom: 0, keepTo: 10 },
    { lo: 7, hi: 22, keepFrom: 10, keepTo: 20 },
    { lo: 17, hi: 30, keepFrom: 20, keepTo: 30 },
  ]);
  // A context of 7 frames around chunks of 2: each chunk reads well into its neighbours.
  assert.deepEqual(checkPlan(9, chunkPlan({ before: 7, after: 7 }, 2)), [
    { lo: 0, hi: 9, keepFrom: 0, keepTo: 2 },
    { lo: 0, hi: 9, keepFrom: 2, keepTo: 4 },
    { lo: 0, hi: 9, keepFrom: 4, keepTo: 6 },
    { lo: 0, hi: 9, keepFrom: 6, keepTo: 8 },
    { lo: 1, hi: 9, keepFrom: 8, keepTo: 9 },
  ]);
  // No context: chunks read only what they keep.
  assert.deepEqual(checkPlan(5, chunkPlan({ before: 0, after: 0 }, 2)).map((c) => [c.lo, c.hi]), [[0, 2], [2, 4], [4, 5]]);
});

/**
 * The chunks a stream codes as frames arrive in blocks of `sizes` (the total unknown until the
 * end when `totalKnown` is false, as for the encoder; known from a header otherwise, as for the
 * decoder), each checked to read only frames that have arrived.
 */
function streamChunks(sizes: number[], plan: ChunkPlan, totalKnown: boolean): Chunk[] {
  const frames = sizes.reduce((a, b) => a + b, 0);
  const chunks: Chunk[] = [];
  let start = 0;
  let available = 0;
  const take = (chunk: Chunk) => {
    assert.ok(chunk.hi <= available, `chunk ${JSON.stringify(chunk)} reads only the ${available} frames that have arrived`);
    chunks.push(chunk);
    start = chunk.keepTo;
  };
  for (const size of sizes) {
    available += size;
    for (const chunk of readyChunks(start, available, totalKnown ? frames : Infinity, plan)) take(chunk);
  }
  for (const chunk of readyChunks(start, frames, frames, plan)) take(chunk);
  return chunks;
}

test('a stream plans the chunks of the one-shot coder, coding each once its frames have arrived', () => {
  const sizesArb = fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 30 }).filter((s) => s.some((n) => n > 0));
  fc.assert(
    fc.property(sizesArb, planArb, fc.boolean(), (sizes, plan, totalKnown) => {
      const frames = sizes.reduce((a, b) => a + b, 0);
      assert.deepEqual(streamChunks(sizes, plan, totalKnown), [...planChunks(frames, plan)]);
    }),
  );
});

test('a stream with a known total codes each chunk as soon as its right context has arrived', () => {
  const plan = chunkPlan({ before: 2, after: 3 }, 4);
  // Frames 0..3 and their right context 4..6 are here: the first chunk is ready, the second is not.
  assert.deepEqual([...readyChunks(0, 7, 20, plan)], [{ lo: 0, hi: 7, keepFrom: 0, keepTo: 4 }]);
  assert.deepEqual([...readyChunks(0, 6, 20, plan)], []);
  // The same while the total is unknown.
  assert.deepEqual([...readyChunks(0, 7, Infinity, plan)], [{ lo: 0, hi: 7, keepFrom: 0, keepTo: 4 }]);
  // The chunk near the end reads to the end only.
  assert.deepEqual(chunkAt(16, 18, plan), { lo: 14, hi: 18, keepFrom: 16, keepTo: 18 });
});

test('what a stream forgets (before firstFrameRead) no later chunk reads', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 300 }), planArb, (frames, plan) => {
      const chunks = [...planChunks(frames, plan)];
      for (const [i, c] of chunks.entries()) {
        const forgotten = firstFrameRead(c.keepTo, plan);
        for (const later of chunks.slice(i + 1)) assert.ok(later.lo >= forgotten, `${JSON.stringify(later)} after forgetting frames < ${forgotten}`);
      }
    }),
  );
});

test('a chunk size that is not a positive integer is a one-line VqcodecError', () => {
  for (const size of [0, -3, 2.5, Number.NaN, Infinity]) {
    assert.throws(
      () => chunkPlan({ before: 1, after: 1 }, size),
      (err: unknown) => err instanceof VqcodecError && /chunk size/.test(err.message) && !err.message.includes('\n'),
      `chunk size ${size}`,
    );
  }
  assert.equal(chunkPlan({ before: 1, after: 1 }).chunkFrames, 500, 'the default: 10 s at 50 frames/s');
});

test('the sliding buffer holds what was appended, from the last drop on, whatever the block sizes', () => {
  const opArb = fc.oneof(
    fc.record({ append: fc.integer({ min: 0, max: 50 }) }),
    fc.record({ drop: fc.double({ min: 0, max: 1, noNaN: true }) }),
  );
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 40 }), fc.integer({ min: 1, max: 16 }), (ops, capacity) => {
      const buffer = new SlidingBuffer((n) => new Int32Array(n), capacity);
      const all: number[] = [];
      let dropped = 0;
      for (const op of ops) {
        if ('append' in op) {
          const block = Int32Array.from({ length: op.append }, (_, i) => all.length + i);
          buffer.append(block);
          all.push(...block);
        } else {
          // Drops move forward only (a stream never re-reads what it forgot).
          dropped = Math.max(dropped, Math.floor(op.drop * all.length));
          buffer.dropBefore(dropped);
        }
        assert.equal(buffer.length, all.length);
        assert.deepEqual(Array.from(buffer.view(dropped, all.length)), all.slice(dropped));
      }
    }),
  );
});
