/**
 * Reference codecs for `vqcodec eval --baseline` (src/eval/baselines.ts): spec parsing, delay
 * alignment, and — when Debian's opus-tools and codec2 are installed — real round trips.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeWav } from '../src/audio/wav.js';
import { alignToInput, hasTool, parseBaseline, parseBaselines, requireTools } from '../src/eval/baselines.js';
import { evaluateReference } from '../src/eval/evaluate.js';
import { VqcodecError } from '../src/errors.js';
import { FIXTURES } from '../src/paths.js';

/** Deterministic noise in [−0.5, 0.5) (xorshift32). */
function noise(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
}

test('parseBaseline accepts opus:KBPS and codec2:MODE', () => {
  assert.equal(parseBaseline('opus:6').name, 'opus-6kbps');
  assert.equal(parseBaseline('opus:6').title, 'opus 6 kbps');
  assert.equal(parseBaseline('opus:12.5').name, 'opus-12.5kbps');
  assert.equal(parseBaseline('OPUS:24').name, 'opus-24kbps');
  assert.equal(parseBaseline('codec2:1200').name, 'codec2-1200');
  assert.equal(parseBaseline('codec2:3200').title, 'codec2 3200');
  assert.equal(parseBaseline('codec2:700C').name, 'codec2-700C');
  assert.equal(parseBaseline('codec2:700c').name, 'codec2-700C');
  assert.deepEqual(parseBaseline('opus:6').tools, ['opusenc', 'opusdec']);
  assert.deepEqual(parseBaseline('codec2:1200').tools, ['c2enc', 'c2dec']);
  assert.deepEqual(
    parseBaselines('opus:6,codec2:1200,codec2:3200,opus:6').map((c) => c.name),
    ['opus-6kbps', 'codec2-1200', 'codec2-3200'],
  );
});

test('parseBaseline rejects anything else with one line naming the spec and the accepted forms', () => {
  for (const spec of ['', 'opus', 'opus:', 'opus:5', 'opus:300', 'opus:6k', 'opus:-6', 'opus:abc', 'codec2:999', 'codec2:450PWB', 'mp3:128', 'codec2:1200:x', 'opus 6']) {
    assert.throws(
      () => parseBaseline(spec),
      (err: unknown) =>
        err instanceof VqcodecError &&
        err.message.includes(`'${spec}'`) &&
        err.message.includes('opus:KBPS') &&
        err.message.includes('codec2:MODE') &&
        !err.message.includes('\n'),
      spec,
    );
  }
  assert.throws(() => parseBaselines('opus:6,,codec2:1200'), VqcodecError);
});

test('alignToInput re-aligns a delayed copy exactly, and an early one up to its end', () => {
  const x = noise(4000, 3);
  const rate = 16000; // ±50 ms = ±800 samples
  for (const delay of [0, 1, 37, 800]) {
    const late = new Float32Array(delay + x.length + 10);
    late.set(x, delay);
    const { aligned, lag } = alignToInput(x, late, rate);
    assert.equal(lag, delay);
    assert.equal(aligned.length, x.length);
    assert.deepEqual(aligned, x);
  }
  // Early (negative lag) and shorter than the input: the tail is zero-padded to the input's length.
  const early = x.slice(25, 3900);
  const { aligned, lag } = alignToInput(x, early, rate);
  assert.equal(lag, -25);
  assert.equal(aligned.length, x.length);
  assert.deepEqual(aligned.subarray(25, 3900), x.subarray(25, 3900));
  assert.ok(aligned.subarray(0, 25).every((v) => v === 0));
  assert.ok(aligned.subarray(3900).every((v) => v === 0));
  // A delay beyond the search range is not found.
  const tooLate = new Float32Array(900 + x.length);
  tooLate.set(x, 900);
  assert.notEqual(alignToInput(x, tooLate, rate).lag, 900);
});

test('alignToInput finds the delay of an output that does not keep the phase (as Codec2 does not)', () => {
  // Voiced-like bursts: 8 harmonics of a 100–200 Hz f0 under a 60-ms Hann envelope, 100 ms apart.
  // The "decoded" copy has the same bursts 300 samples later, each harmonic at a random phase.
  const rate = 16000;
  const n = rate;
  const delay = 300;
  const phases = noise(400, 11);
  const input = new Float32Array(n);
  const decoded = new Float32Array(n + delay);
  const burst = Math.round(0.06 * rate);
  for (let b = 0, start = 800; start + burst < n; b++, start += Math.round(0.1 * rate)) {
    const f0 = 100 + 10 * b;
    for (let i = 0; i < burst; i++) {
      const env = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / burst);
      let clean = 0;
      let scrambled = 0;
      for (let h = 1; h <= 8; h++) {
        const w = (2 * Math.PI * f0 * h * i) / rate;
        clean += Math.sin(w) / h;
        scrambled += Math.sin(w + 2 * Math.PI * phases[(8 * b + h) % phases.length]!) / h;
      }
      input[start + i] = 0.3 * env * clean;
      decoded[start + delay + i] = 0.3 * env * scrambled;
    }
  }
  const { aligned, lag } = alignToInput(input, decoded, rate);
  // Within the fine stage's ±10 ms of the envelope lag (plain cross-correlation over ±50 ms picks 514 here).
  assert.ok(Math.abs(lag - delay) <= 0.01 * rate, `lag ${lag}, delay ${delay}`);
  assert.equal(aligned.length, n);
});

test('a missing program is a one-line error naming the Debian package', () => {
  const saved = process.env.PATH;
  process.env.PATH = '';
  try {
    assert.equal(hasTool('opusenc'), false);
    assert.throws(() => requireTools([parseBaseline('opus:6')]), {
      name: 'VqcodecError',
      message: "opusenc not found: install Debian's opus-tools to compare against Opus",
    });
    assert.throws(() => requireTools([parseBaseline('codec2:1200')]), /^VqcodecError: c2enc not found: install Debian's codec2/);
  } finally {
    process.env.PATH = saved;
  }
});

const haveTools = ['opusenc', 'opusdec', 'c2enc', 'c2dec'].every(hasTool);

test(
  'Opus and Codec2 round trips on speech.wav: plausible bitrates, intelligible output, no temp files left',
  { skip: haveTools ? false : 'opus-tools and codec2 not installed' },
  async () => {
    const wav = decodeWav(await fs.readFile(path.join(FIXTURES, 'speech.wav')));
    assert.equal(wav.sampleRate, 16000);
    const samples = wav.channels[0]!;
    const seconds = samples.length / wav.sampleRate;
    const leftovers = async () => (await fs.readdir(os.tmpdir())).filter((f) => f.startsWith('vqcodec-baseline-')).sort();
    const before = await leftovers();
    const expected: Record<string, [number, number]> = {
      'opus:6': [3000, 12000],
      'codec2:1200': [1200, 1300], // whole 40-ms frames of 48 bits, the last one zero-padded
      'codec2:3200': [3200, 3300],
    };
    for (const [spec, [lo, hi]] of Object.entries(expected)) {
      const { report, decoded } = await evaluateReference(parseBaseline(spec), samples, 'speech.wav', wav.sampleRate);
      assert.equal(decoded.length, samples.length, spec);
      assert.equal(report.bitsPerSecond, (report.bytes * 8) / seconds, spec);
      assert.ok(report.bitsPerSecond >= lo && report.bitsPerSecond <= hi, `${spec}: ${report.bitsPerSecond} b/s`);
      assert.ok(report.stoi > 0.5, `${spec}: STOI ${report.stoi}`);
      assert.equal(report.codec, parseBaseline(spec).name);
      assert.equal(report.numCodebooks, 0);
    }
    assert.deepEqual(await leftovers(), before);
  },
);
