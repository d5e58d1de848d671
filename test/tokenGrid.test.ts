/** The token grid picture (src/eval/tokenGridImage.ts) the web page draws. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VqcodecError } from '../src/errors.js';
import { tokenGridImage } from '../src/eval/tokenGridImage.js';

const tokens = (frames: number, q: number) => ({ codes: Int32Array.from({ length: frames * q }, (_, i) => (i * 37) % 1024), frames, numCodebooks: q, hop: 320, sampleRate: 16000 });

test('the token grid has a row per codebook and fades the codebooks a decode leaves out', () => {
  const full = tokenGridImage(tokens(181, 8));
  const half = tokenGridImage(tokens(181, 8), { activeCodebooks: 4 });
  assert.deepEqual([half.width, half.height], [full.width, full.height]);
  assert.ok(full.width >= 181 * 3 && full.width < 181 * 3 + 60, `3 px a frame plus margins (${full.width})`);
  // Mean brightness of the lower half of the grid rises when those rows fade.
  const brightness = (img: typeof full) => img.pixels.reduce((a, b) => a + b, 0);
  assert.ok(brightness(half) > brightness(full));
  assert.ok(tokenGridImage(tokens(100_000, 8)).width <= 1200 + 60, 'long clips share columns');
  assert.throws(() => tokenGridImage({ ...tokens(10, 8), frames: 11 }), VqcodecError);
});
