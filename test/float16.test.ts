/** Half-precision storage (src/io/float16.ts, float16 bundles): exact round trips and nearest rounding. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBundle, encodeBundle } from '../src/io/bundle.js';
import { fromHalfBits, roundToHalf, toHalfBits } from '../src/io/float16.js';
import { Random } from '../src/train/random.js';

test('every one of the 65,536 half bit patterns survives value → bits (NaNs stay NaN)', () => {
  for (let h = 0; h < 65536; h++) {
    const v = fromHalfBits(h);
    if (Number.isNaN(v)) assert.ok(Number.isNaN(fromHalfBits(toHalfBits(v))), `NaN ${h}`);
    else assert.equal(toHalfBits(v), h === 0x8000 ? 0x8000 : h, `bits ${h.toString(16)} (${v})`);
  }
});

test('known values: 1, −2, 65504 (largest), 2^−24 (smallest subnormal), overflow to Infinity', () => {
  assert.equal(toHalfBits(1), 0x3c00);
  assert.equal(toHalfBits(-2), 0xc000);
  assert.equal(toHalfBits(65504), 0x7bff);
  assert.equal(toHalfBits(2 ** -24), 0x0001);
  assert.equal(toHalfBits(2 ** -26), 0x0000);
  assert.equal(toHalfBits(70000), 0x7c00);
  assert.equal(toHalfBits(-Infinity), 0xfc00);
  assert.equal(fromHalfBits(0x3555), 0.333251953125);
});

test('rounding picks the nearest half value, ties to even (checked against the sorted table)', () => {
  const values = Array.from({ length: 0x7c00 }, (_, h) => fromHalfBits(h)); // all finite non-negative halves, ascending
  const rng = new Random(3);
  for (let i = 0; i < 20000; i++) {
    const x = Math.fround((rng.next() * 2 - 1) * 2 ** Math.floor(rng.next() * 36 - 26));
    const r = fromHalfBits(toHalfBits(x));
    const a = Math.abs(x);
    let lo = 0;
    let hi = values.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (values[mid] <= a) lo = mid;
      else hi = mid;
    }
    const [dLo, dHi] = [a - values[lo], values[hi] - a];
    const nearest = dLo < dHi || (dLo === dHi && lo % 2 === 0) ? values[lo] : values[hi];
    assert.equal(Math.abs(r), a >= 65520 ? Infinity : nearest, `x = ${x}`);
  }
});

test('a float16 bundle is half the data size and reads back the rounded values', () => {
  const rng = new Random(4);
  const data = Float32Array.from({ length: 1001 }, () => rng.next() - 0.5);
  const bundle = { meta: { a: 1 }, arrays: { w: { shape: [7, 143], data }, b: { shape: [3], data: new Float32Array([1, -0.1, 1e-8]) } } };
  const full = encodeBundle(bundle);
  const half = encodeBundle(bundle, 'float16');
  const back = decodeBundle(half, 'test');
  assert.deepEqual(back.meta, { a: 1 });
  assert.deepEqual(back.arrays.w.shape, [7, 143]);
  assert.deepEqual(Array.from(back.arrays.w.data), Array.from(roundToHalf(data)));
  assert.deepEqual(Array.from(back.arrays.b.data), Array.from(roundToHalf(new Float32Array([1, -0.1, 1e-8]))));
  assert.ok(Math.abs(back.arrays.w.data[5] - data[5]) <= 2 ** -12, 'relative error within half an ulp');
  assert.ok(half.length < 0.55 * full.length, `${half.length} vs ${full.length} bytes`);
  // Re-encoding rounded values at float32 and back is exact.
  assert.deepEqual(Array.from(decodeBundle(encodeBundle(back), 'x').arrays.w.data), Array.from(back.arrays.w.data));
});
