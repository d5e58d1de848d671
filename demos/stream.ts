/**
 * Live coding, measured: a WAV file is fed to the encoder at real-time pace, block by block as
 * a microphone would deliver it; its codes go straight into the streaming decoder; each decoded
 * chunk's latency (when its last sample was "spoken" → when its audio is out) and the real-time
 * margin (audio time over compute time) are printed. The evidence that the codec can run live.
 *
 *   npm run demo:stream -- [--input file.wav] [--chunk-ms 200] [--codebooks n] [--model dir]
 *                          [--fast] [--out decoded.wav]
 *
 * --fast feeds the file as fast as the codec takes it (throughput instead of latency).
 * The algorithmic delay is the chunk plus the right context each stage waits for (the encoder's
 * and the decoder's receptive fields), printed first.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openWavStream } from '../src/audio/wavStream.js';
import { writeWav } from '../src/audio/wavFs.js';
import { initBackend } from '../src/backend.js';
import { Codec } from '../src/codec.js';
import { VqcodecError } from '../src/errors.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..'); // dist/demos → repo

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      input: { type: 'string', default: path.join(root, 'test', 'fixtures', 'speech.wav') },
      'chunk-ms': { type: 'string', default: '200' },
      codebooks: { type: 'string' },
      model: { type: 'string', default: path.join(root, 'models', 'default') },
      fast: { type: 'boolean', default: false },
      out: { type: 'string' },
    },
  });
  const backend = await initBackend();
  const codec = await Codec.load(values.model!);
  const rate = codec.sampleRate;
  const chunkMs = Number(values['chunk-ms']);
  const chunkFrames = Math.max(1, Math.round((chunkMs / 1000) * codec.frameRate));
  const numCodebooks = values.codebooks !== undefined ? Number(values.codebooks) : codec.numCodebooks;
  if (!Number.isInteger(numCodebooks) || numCodebooks < 1 || numCodebooks > codec.numCodebooks) throw new VqcodecError(`--codebooks must be from 1 to ${codec.numCodebooks}`);
  const stream = await openWavStream(values.input!, rate, { blockFrames: chunkFrames * codec.hop });
  const frameMs = 1000 / codec.frameRate;
  const encRight = codec.model.encoderContext.after;
  const decRight = codec.model.decoderContext.after;
  console.log(
    `backend ${backend}; ${path.basename(values.input!)} (${(stream.length / rate).toFixed(2)} s) in chunks of ${chunkFrames} frames (${(chunkFrames * frameMs).toFixed(0)} ms), ${numCodebooks} codebooks (${(codec.bitrate(numCodebooks) / 1000).toFixed(1)} kbps)`,
  );
  console.log(
    `algorithmic delay: chunk ${(chunkFrames * frameMs).toFixed(0)} ms + encoder look-ahead ${encRight} frames (${(encRight * frameMs).toFixed(0)} ms) + decoder look-ahead ${decRight} frames (${(decRight * frameMs).toFixed(0)} ms)`,
  );

  // The input, released at the wall-clock time its last sample is spoken (or at once with --fast).
  const started = performance.now();
  let fed = 0;
  let idleMs = 0;
  async function* paced(): AsyncGenerator<Float32Array> {
    for await (const block of stream.blocks) {
      fed += block.length;
      const due = started + (fed / rate) * 1000;
      const wait = values.fast ? 0 : due - performance.now();
      if (wait > 0) {
        idleMs += wait;
        await new Promise((r) => setTimeout(r, wait));
      }
      yield block;
    }
  }
  const header = codec.tokenHeader(stream.length, numCodebooks);
  const codes = codec.encodeStream(paced(), { numCodebooks, chunkFrames });
  const out: Float32Array[] = [];
  let outSamples = 0;
  let lastAt = started;
  let lastIdle = 0;
  const latencies: number[] = [];
  let computeMs = 0;
  let chunk = 0;
  for await (const audio of codec.decodeStream(header, codes, { numCodebooks, chunkFrames })) {
    const now = performance.now();
    out.push(audio);
    outSamples += audio.length;
    // When the last sample of this audio was spoken (fed), relative to the start.
    const spokenAt = started + (outSamples / rate) * 1000;
    const latency = now - spokenAt;
    const compute = now - lastAt - (idleMs - lastIdle);
    computeMs += compute;
    const audioMs = (audio.length / rate) * 1000;
    if (!values.fast) latencies.push(latency);
    console.log(
      `chunk ${String(++chunk).padStart(3)}: audio to ${(outSamples / rate).toFixed(2)} s out at ${((now - started) / 1000).toFixed(2)} s` +
        (values.fast ? '' : `, latency ${latency.toFixed(0)} ms`) +
        `, compute ${compute.toFixed(0)} ms for ${audioMs.toFixed(0)} ms of audio (${(audioMs / Math.max(compute, 1e-3)).toFixed(1)}× real time)`,
    );
    lastAt = now;
    lastIdle = idleMs;
  }
  const seconds = outSamples / rate;
  const margin = (seconds * 1000) / computeMs;
  const sorted = [...latencies].sort((a, b) => a - b);
  console.log(
    `\n${chunk} chunks, ${seconds.toFixed(2)} s of audio: computed in ${(computeMs / 1000).toFixed(2)} s, a real-time margin of ${margin.toFixed(1)}×` +
      (sorted.length > 0 ? `; latency median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(0)} ms, max ${sorted[sorted.length - 1]!.toFixed(0)} ms` : ''),
  );
  if (values.out !== undefined) {
    const samples = new Float32Array(outSamples);
    let at = 0;
    for (const a of out) {
      samples.set(a, at);
      at += a.length;
    }
    await writeWav(values.out, { samples, sampleRate: rate });
    console.log(`wrote ${values.out}`);
  }
}

main().catch((err) => {
  process.stderr.write(`stream: ${err instanceof VqcodecError ? err.message : (err as Error).stack}\n`);
  process.exit(1);
});
