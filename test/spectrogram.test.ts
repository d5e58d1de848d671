import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inflateSync } from 'node:zlib';
import { melSpectrogramDb, spectrogramPng } from '../src/eval/spectrogram.js';
import { crc32 } from '../src/tokens/crc32.js';

function tone(hz: number, seconds: number, rate = 16000): Float32Array {
  return Float32Array.from({ length: seconds * rate }, (_, i) => 0.5 * Math.sin((2 * Math.PI * hz * i) / rate));
}

test('a pure tone peaks in a higher mel band the higher it is', () => {
  const peakBand = (hz: number) => {
    const frames = melSpectrogramDb(tone(hz, 0.5), 16000);
    const mid = frames[Math.floor(frames.length / 2)];
    return mid.indexOf(Math.max(...mid));
  };
  const low = peakBand(300);
  const mid = peakBand(1500);
  const high = peakBand(5000);
  assert.ok(low < mid && mid < high, `peak bands ${low}, ${mid}, ${high}`);
});

test('spectrogramPng writes a valid PNG: signature, IHDR size, chunk CRCs, rows of the right length', () => {
  const png = spectrogramPng([tone(440, 0.5), tone(880, 0.25)], 16000, 2);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let offset = 8;
  const idat: Uint8Array[] = [];
  let width = 0;
  let height = 0;
  while (offset < png.length) {
    const length = view.getUint32(offset);
    const type = new TextDecoder().decode(png.subarray(offset + 4, offset + 8));
    const data = png.subarray(offset + 8, offset + 8 + length);
    assert.equal(view.getUint32(offset + 8 + length), crc32(png.subarray(offset + 4, offset + 8 + length)), `${type} CRC`);
    if (type === 'IHDR') {
      width = view.getUint32(offset + 8);
      height = view.getUint32(offset + 12);
    }
    if (type === 'IDAT') idat.push(data);
    offset += 12 + length;
  }
  assert.equal(height, 2 * 80 * 2 + 4, 'two rows of 80 bands at scale 2, a 4-pixel gap');
  assert.ok(width > 0);
  assert.equal(inflateSync(Buffer.concat(idat)).length, height * (1 + width * 3));
});
