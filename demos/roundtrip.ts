/**
 * The library API in a dozen lines: load the shipped model, code a clip at each bitrate,
 * and print what the token stream looks like to a downstream sequence model.
 *
 *   npx tsc -p . && node dist/demos/roundtrip.js [audio file]
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Codec, initBackend, loadAudio, siSdr } from '../src/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..'); // dist/demos → repo
const input = process.argv[2] ?? path.join(root, 'test', 'fixtures', 'speech.wav');

console.log(`backend: ${await initBackend()}`);
const codec = await Codec.load(path.join(root, 'models', 'default'));
const { samples } = await loadAudio(input, codec.sampleRate);
for (let n = 1; n <= codec.numCodebooks; n *= 2) {
  const tokens = codec.encode(samples, { numCodebooks: n });
  const decoded = codec.decode(tokens);
  console.log(`${n} codebook(s), ${(codec.bitrate(n) / 1000).toFixed(1)} kbps: SI-SDR ${siSdr(samples, decoded).toFixed(2)} dB`);
}
const tokens = codec.encode(samples);
const firstFrames = Array.from({ length: 3 }, (_, f) => Array.from(tokens.codes.subarray(f * tokens.numCodebooks, (f + 1) * tokens.numCodebooks)));
console.log(`${tokens.frames} frames × ${tokens.numCodebooks} codebooks; first frames:`, firstFrames);
