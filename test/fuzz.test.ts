/**
 * Fuzzing every reader of untrusted bytes (fuzz/targets.ts): .vqt files of every version (bit-
 * packed and entropy-coded, multi-rate; one-shot, header-only and streamed), context models, WAV (whole and
 * streamed), MP3 / Ogg / FLAC, tensor bundles, model and prior folders, manifests and .npy.
 * Random bytes, truncation at every offset, bit flips (with the checksum re-stamped, so the
 * checks behind it are reached), and absurd header values must each end in valid output or a
 * one-line VqcodecError: never another error, never over the time limit, and an absurd header
 * never buys an allocation the input's length cannot justify. The long run of the same targets
 * is `npm run fuzz -- --cases N`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { initBackend } from '../src/backend.js';
import { applyMutations, describeMutations, INTERESTING_U32, JSON_VALUES, type Mutation } from '../fuzz/mutate.js';
import { TARGET_NAMES, makeTargets, runCase, type FuzzTarget } from '../fuzz/targets.js';

let dir: string;
let targets: Map<string, FuzzTarget>;

before(async () => {
  await initBackend('cpu');
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-fuzz-test-'));
  const list = await makeTargets(dir);
  assert.deepEqual(list.map((t) => t.name), [...TARGET_NAMES]);
  targets = new Map(list.map((t) => [t.name, t]));
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** Runs `bytes` through the target and fails the test unless it was read or refused cleanly. */
async function assertClean(target: FuzzTarget, bytes: Uint8Array, what: string): Promise<void> {
  const r = await runCase(target, bytes);
  assert.notEqual(r.outcome, 'failed', `${target.name}, ${what} (${bytes.length} bytes): ${r.message}`);
}

const posArb = fc.oneof(fc.nat(63), fc.nat());
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: posArb, bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('byte' as const), at: posArb, value: fc.nat(255) }),
  fc.record({ kind: fc.constant('u32' as const), at: posArb, value: fc.constantFrom(...INTERESTING_U32), bigEndian: fc.boolean() }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: posArb, bytes: fc.array(fc.nat(255), { minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: posArb, length: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant('json' as const), at: fc.nat(1000), value: fc.constantFrom(...JSON_VALUES) }),
);
const jsonMutationArb: fc.Arbitrary<Mutation> = fc.record({ kind: fc.constant('json' as const), at: fc.nat(1000), value: fc.constantFrom(...JSON_VALUES) });

/** Bytes allocated in ArrayBuffers and still live (not yet collected) since `before`. */
function arrayBufferGrowth(before: NodeJS.MemoryUsage): number {
  return process.memoryUsage().arrayBuffers - before.arrayBuffers;
}

for (const name of TARGET_NAMES) {
  const target = () => targets.get(name)!;

  test(`${name}: absurd header values are refused (or read) quickly, with no allocation the input cannot justify`, { timeout: 120_000 }, async () => {
    for (const c of target().absurd) {
      const memory = process.memoryUsage();
      const r = await runCase(target(), c.bytes);
      const grown = arrayBufferGrowth(memory);
      const label = `${name}, ${c.what}`;
      if (c.refusal === undefined) assert.equal(r.outcome, 'ok', `${label} must be read: ${r.message}`);
      else {
        assert.equal(r.outcome, 'refused', `${label} must be refused: ${r.message}`);
        assert.match(r.message!, c.refusal, label);
      }
      // A reader may hold a few copies of its input, and a model a few tensors; not a header's worth.
      assert.ok(grown < 32 * 2 ** 20 + 64 * c.bytes.length, `${label}: ${(grown / 2 ** 20).toFixed(0)} MiB of ArrayBuffers allocated`);
    }
  });

  test(`${name}: every truncation of the smallest seed (some of the larger ones), checksum as is and re-stamped`, { timeout: 120_000 }, async () => {
    const seeds = [...target().seeds].sort((a, b) => a.length - b.length);
    const smallest = seeds[0]!;
    const offsets = smallest.length <= 600 ? Array.from({ length: smallest.length }, (_, i) => i) : Array.from({ length: 60 }, (_, i) => Math.floor((i * smallest.length) / 60));
    for (const n of offsets) {
      const cut = smallest.subarray(0, n);
      await assertClean(target(), cut, `truncated to ${n}`);
      if (target().fix !== undefined) await assertClean(target(), target().fix!(cut), `truncated to ${n}, checksum fixed`);
    }
    for (const seed of seeds.slice(1)) {
      for (let i = 1; i <= 8; i++) await assertClean(target(), seed.subarray(0, Math.floor((i * seed.length) / 9)), `a larger seed truncated to ${i}/9`);
    }
  });

  test(`${name}: random mutations of the seeds (fast-check)`, { timeout: 120_000 }, async () => {
    const t = target();
    await fc.assert(
      fc.asyncProperty(fc.nat(t.seeds.length - 1), fc.array(t.json ? fc.oneof(jsonMutationArb, mutationArb) : mutationArb, { minLength: 1, maxLength: 4 }), fc.boolean(), async (s, mutations, fix) => {
        let bytes = applyMutations(t.seeds[s]!, mutations);
        if (fix && t.fix !== undefined) bytes = t.fix(bytes);
        await assertClean(t, bytes, `seed ${s}, ${describeMutations(mutations)}${fix ? ', checksum fixed' : ''}`);
      }),
      { numRuns: ['mp3', 'ogg', 'flac', 'model config.json', 'model weights.bin'].includes(name) ? 25 : 60 },
    );
  });

  test(`${name}: random bytes, bare and behind the format's first bytes`, { timeout: 120_000 }, async () => {
    const t = target();
    const magic = t.seeds[0]!.subarray(0, 8);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.boolean(), async (random, prefixed) => {
        const bytes = prefixed ? Uint8Array.from([...magic, ...random]) : random;
        await assertClean(t, t.fix !== undefined && prefixed ? t.fix(bytes) : bytes, `${random.length} random bytes${prefixed ? ' after the magic' : ''}`);
      }),
      { numRuns: 20 },
    );
  });
}

test('every single-bit flip of a small token file and context model, with the checksum re-stamped', { timeout: 120_000 }, async () => {
  for (const name of ['vqt v1', 'vqt v2 bit-packed', 'vqt v2 entropy-coded', 'vqt v3 multi-rate', 'context model']) {
    const t = targets.get(name)!;
    const seed = [...t.seeds].sort((a, b) => a.length - b.length)[0]!;
    for (let i = 0; i < seed.length - 4; i++) {
      for (let bit = 0; bit < 8; bit++) await assertClean(t, t.fix!(applyMutations(seed, [{ kind: 'flip', at: i, bit }])), `flip of bit ${bit} at ${i}`);
    }
  }
});
