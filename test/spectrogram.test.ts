import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inflateSync } from 'node:zlib';
import { drawText, GLYPH_HEIGHT, textWidth } from '../src/eval/bitmapFont.js';
import { inferno } from '../src/eval/colourMap.js';
import { VqcodecError } from '../src/errors.js';
import { BLACK, RgbImage } from '../src/eval/rgbImage.js';
import { spectrogramDb } from '../src/eval/spectrogram.js';
import { spectrogramFigure, spectrogramFigureSize } from '../src/eval/spectrogramFigure.js';
import { crc32 } from '../src/tokens/crc32.js';

function tone(hz: number, seconds: number, rate = 16000, amplitude = 0.5): Float32Array {
  return Float32Array.from({ length: Math.round(seconds * rate) }, (_, i) => amplitude * Math.sin((2 * Math.PI * hz * i) / rate));
}

/** Checks the signature and every chunk CRC; returns the IHDR fields and the inflated rows. */
function readPng(png: Uint8Array): { width: number; height: number; bitDepth: number; colourType: number; raw: Uint8Array } {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let offset = 8;
  const idat: Uint8Array[] = [];
  const header = { width: 0, height: 0, bitDepth: 0, colourType: 0 };
  while (offset < png.length) {
    const length = view.getUint32(offset);
    const type = new TextDecoder().decode(png.subarray(offset + 4, offset + 8));
    assert.equal(view.getUint32(offset + 8 + length), crc32(png.subarray(offset + 4, offset + 8 + length)), `${type} CRC`);
    if (type === 'IHDR') {
      header.width = view.getUint32(offset + 8);
      header.height = view.getUint32(offset + 12);
      header.bitDepth = png[offset + 16]!;
      header.colourType = png[offset + 17]!;
    }
    if (type === 'IDAT') idat.push(png.subarray(offset + 8, offset + 8 + length));
    offset += 12 + length;
  }
  return { ...header, raw: inflateSync(Buffer.concat(idat)) };
}

test('spectrogramDb: a full-scale-relative dB scale, linear bins, a frame per hop', () => {
  const spec = spectrogramDb(tone(1000, 0.5, 16000, 1), 16000, 128);
  assert.equal(spec.db.length, Math.floor(8000 / 128) + 1);
  assert.equal(spec.binHz, 31.25, '256-sample window, FFT of 512 at 16 kHz');
  assert.equal(spec.db[0]!.length, 257, 'bins 0 Hz … 8 kHz');
  const mid = spec.db[30]!;
  const peakBin = mid.indexOf(Math.max(...mid));
  assert.equal(peakBin, 1000 / 31.25, 'a 1 kHz tone peaks at 1 kHz');
  assert.ok(Math.abs(mid[peakBin]!) < 0.1, `a full-scale sine peaks at 0 dB, got ${mid[peakBin]}`);
  const half = spectrogramDb(tone(1000, 0.5, 16000, 0.5), 16000, 128).db[30]!;
  assert.ok(Math.abs(half[peakBin]! + 20 * Math.log10(2)) < 0.01, 'half the amplitude is 6 dB down');
  assert.throws(() => spectrogramDb(tone(1000, 0.1), 16000, 0), VqcodecError);
});

test('spectrogramFigure writes a valid RGB PNG of the size its layout gives, growing with panels and duration', () => {
  const samples = tone(440, 0.5);
  const png = spectrogramFigure([{ label: 'original', samples }, { label: '2 codebooks', samples: tone(880, 0.25) }], 16000);
  const { width, height, bitDepth, colourType, raw } = readPng(png);
  assert.deepEqual({ width, height }, spectrogramFigureSize(samples.length, 16000, 2));
  assert.deepEqual([bitDepth, colourType], [8, 2]);
  assert.equal(raw.length, height * (1 + width * 3));
  const one = spectrogramFigureSize(8000, 16000, 1);
  const three = spectrogramFigureSize(8000, 16000, 3);
  assert.equal(three.width, one.width);
  assert.ok(three.height - one.height > 2 * 256, 'each panel adds at least its 256 rows');
  // 125 columns a second (hop 8 ms) …
  const empty = spectrogramFigureSize(0, 16000, 1).width;
  assert.equal(spectrogramFigureSize(16000, 16000, 1).width - empty, 125);
  // … but never wider than 2400 columns plus the margins, however long the clip.
  const hour = spectrogramFigureSize(3600 * 16000, 16000, 1).width;
  assert.ok(hour <= empty - 1 + 2400 && hour > empty + 2300, `an hour is ${hour} px wide`);
  assert.throws(() => spectrogramFigure([], 16000), VqcodecError);
});

test('bitmap font: widths add up, ink stays inside the cell, unknown characters draw as ?', () => {
  assert.equal(textWidth(''), 0);
  assert.equal(textWidth('8'), 5);
  assert.equal(textWidth('88'), 11, 'one blank column between glyphs');
  assert.equal(textWidth('88', 2), 22);
  assert.equal(textWidth('€'), textWidth('?'));
  const image = new RgbImage(40, 20);
  const width = drawText(image, 2, 3, 'kHz dB', BLACK);
  assert.equal(width, textWidth('kHz dB'));
  let inked = 0;
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      if (image.pixels[(y * image.width + x) * 3] === 0) {
        inked++;
        assert.ok(x >= 2 && x < 2 + width && y >= 3 && y < 3 + GLYPH_HEIGHT, `ink at ${x},${y}`);
      }
    }
  }
  assert.ok(inked > 30);
});

test('inferno runs from near black to pale yellow, lightness rising throughout', () => {
  assert.deepEqual(inferno(0), [0, 0, 4]);
  assert.deepEqual(inferno(1), [252, 255, 164]);
  assert.deepEqual(inferno(-1), inferno(0));
  assert.deepEqual(inferno(Number.NaN), inferno(0));
  const luma = (t: number) => {
    const [r, g, b] = inferno(t);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  for (let i = 1; i <= 100; i++) assert.ok(luma(i / 100) > luma((i - 1) / 100), `lightness at ${i / 100}`);
});
