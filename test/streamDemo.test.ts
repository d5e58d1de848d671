/**
 * demos/stream runs on a fresh clone: it codes a WAV chunk by chunk through the streaming
 * encoder and decoder, prints a line per chunk and the real-time margin, and its audio equals
 * the one-shot encode → decode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../src/backend.js';
import { loadAudio } from '../src/audio/load.js';
import { decodeWav, encodeWav } from '../src/audio/wav.js';
import { Codec } from '../src/codec.js';
import { DEFAULT_MODEL, FIXTURES, PACKAGE_ROOT } from '../src/paths.js';

test('the streaming demo prints each chunk and decodes what the one-shot path decodes', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-stream-demo-'));
  try {
    await initBackend('wasm');
    const codec = await Codec.load(DEFAULT_MODEL);
    const speech = (await loadAudio(path.join(FIXTURES, 'speech.wav'), 16000)).samples.subarray(0, 19200);
    const input = path.join(dir, 'in.wav');
    await fs.writeFile(input, encodeWav(speech, 16000));
    const out = path.join(dir, 'out.wav');
    const r = spawnSync(process.execPath, [path.join(PACKAGE_ROOT, 'dist', 'demos', 'stream.js'), '--input', input, '--chunk-ms', '400', '--codebooks', '2', '--fast', '--out', out], {
      env: { ...process.env, VQCODEC_BACKEND: 'wasm' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.match(/^chunk +\d+: /gm)?.length, 3, r.stdout);
    assert.match(r.stdout, /algorithmic delay: chunk 400 ms \+ encoder look-ahead \d+ frames/);
    assert.match(r.stdout, /3 chunks, 1\.20 s of audio: computed in [\d.]+ s, a real-time margin of [\d.]+×/);
    const streamed = decodeWav(await fs.readFile(out), out).channels[0]!;
    // The demo writes 16-bit PCM: compare with the one-shot decode written the same way.
    const oneShot = decodeWav(encodeWav(codec.decode(codec.encode(speech, { numCodebooks: 2 })), 16000), 'one-shot').channels[0]!;
    assert.deepEqual(streamed, oneShot);
    codec.dispose();
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
