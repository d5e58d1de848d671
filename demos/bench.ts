/**
 * The benchmark (issue 3): training throughput per backend, encode/decode real-time factor,
 * forward GFLOP per audio-second, and the peak memory of streaming-encoding a long file.
 *
 *   npm run bench -- [--config file.json | --preset name] [--backends wasm,cpu] [--steps N]
 *                    [--long-minutes M] [--skip-long] [--json out.json] [--workers N] [--profile] [--gan]
 *
 * --gan also times training steps against the spectrogram discriminator (adversarial training).
 *
 * Figures go to stdout as a table; the last stdout line is one JSON object (compare run to run).
 * Progress goes to stderr. The long-file figures come from child processes of their own
 * (`bench.js --child encode ...`), because peak RSS is a per-process high-water mark.
 */
import * as tf from '@tensorflow/tfjs';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WavFileWriter } from '../src/audio/wavStream.js';
import { initBackend } from '../src/backend.js';
import { table } from '../src/cli/ui.js';
import { Codec } from '../src/codec.js';
import { VqcodecError } from '../src/errors.js';
import { PRESETS, hopLength, makeConfig, type CodecConfig, type DeepPartial, splitQuantizerFields } from '../src/model/config.js';
import { VqVae } from '../src/model/vqvae.js';
import type { FrameContext } from '../src/model/receptiveField.js';
import { encodeWavFile } from '../src/streamFiles.js';
import { Adam } from '../src/train/adam.js';
import { DataParallel } from '../src/train/parallel.js';
import { Random } from '../src/train/random.js';
import { SpectrogramDiscriminator } from '../src/train/discriminator.js';
import { trainStep } from '../src/train/step.js';

const SCRIPT = fileURLToPath(import.meta.url);
/** Training batch: 8 crops of 1 s, as `vqcodec train` by default. */
const BATCH = 8;
const CROP_SECONDS = 1;
const STFT_WINDOWS = [512, 1024, 2048];
const LOSS_WEIGHTS = { waveform: 1, stft: 1, vq: 1 };
const GAN_LOSS_WEIGHTS = { ...LOSS_WEIGHTS, adversarial: 0.5, featureMatching: 1 };
/** Length of the signal whose encode/decode real-time factor is measured, and repetitions. */
const CODING_SECONDS = 60;
const CODING_REPEATS = 3;

const progress = (message: string): void => void process.stderr.write(`[bench] ${message}\n`);
const mb = (kb: number): number => Math.round(kb / 1024);
const peakRssMB = (): number => mb(process.resourceUsage().maxRSS);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

/**
 * Speech-like test audio, generated block by block from a seed: a voiced source (a few
 * harmonics of a gliding 90–200 Hz pitch) plus coloured noise, under a ~4 Hz syllable envelope
 * with pauses. Quality does not matter to the timings; realistic levels and spectra do a little
 * (codebook search and STFT are data-independent, so this is mostly for the codec's sake).
 */
class SpeechLike {
  private readonly random: Random;
  private t = 0;
  private phase = 0;
  private noise = 0;

  constructor(
    readonly sampleRate: number,
    seed: number,
  ) {
    this.random = new Random(seed);
  }

  next(n: number): Float32Array {
    const out = new Float32Array(n);
    const dt = 1 / this.sampleRate;
    const r = this.random.next;
    for (let i = 0; i < n; i++, this.t += dt) {
      const t = this.t;
      const f0 = 145 + 55 * Math.sin(2 * Math.PI * 0.37 * t) * Math.sin(2 * Math.PI * 0.11 * t + 1);
      this.phase += 2 * Math.PI * f0 * dt;
      if (this.phase > 2 * Math.PI) this.phase -= 2 * Math.PI;
      const p = this.phase;
      const voiced = Math.sin(p) + 0.5 * Math.sin(2 * p) + 0.33 * Math.sin(3 * p) + 0.25 * Math.sin(4 * p);
      this.noise = 0.7 * this.noise + 0.3 * (r() * 2 - 1);
      const syllable = Math.sin(2 * Math.PI * 3.7 * t);
      const pause = Math.sin(2 * Math.PI * 0.23 * t) > -0.6 ? 1 : 0.02;
      out[i] = pause * syllable * syllable * (0.12 * voiced + 0.05 * this.noise);
    }
    return out;
  }
}

interface TrainFigures {
  backend: string;
  workers: number;
  /** Trained against the discriminator too. */
  gan: boolean;
  warmupSteps: number;
  timedSteps: number;
  medianStepSeconds: number;
  audioSecPerSec: number;
  /** 3 × forward GFLOP per step / median step time (backward ≈ 2 × forward). */
  achievedGflops: number;
  tensorsBefore: number;
  tensorsAfter: number;
  tensorGrowthPerStep: number;
  peakRssMB: number;
  topKernels?: { kernel: string; ms: number; share: number }[];
}

/**
 * Training throughput of `config` on `backend` with `workers` replicas.
 *
 * ── DATA-PARALLEL HOOK ──────────────────────────────────────────────────────────────────
 * workers = 1: trainStep (src/train/step.ts) in this process. workers > 1: src/train/parallel.ts's
 * DataParallel (the main thread plus workers − 1 worker threads, each with its own backend,
 * gradients averaged), timed over the same batch exactly like the single-process loop. If that
 * module's API changes, this is the one place to adapt; if it cannot start, the figure is
 * reported as not available rather than invented.
 * ────────────────────────────────────────────────────────────────────────────────────────
 */
async function measureTraining(
  config: CodecConfig,
  backend: string,
  workers: number,
  options: { warmup: number; steps: number; forwardGflopPerStep: number; profile: boolean; gan?: boolean },
): Promise<TrainFigures | { backend: string; workers: number; unavailable: string }> {
  await initBackend(backend);
  const model = new VqVae(config, 1);
  const gan = options.gan === true;
  const adversary = gan
    ? { discriminator: new SpectrogramDiscriminator(1), optimizer: new Adam({ learningRate: 1e-3, beta1: 0.5, beta2: 0.9, epsilon: 1e-8, clipNorm: 1 }) }
    : undefined;
  const weights = gan ? GAN_LOSS_WEIGHTS : LOSS_WEIGHTS;
  const adam = new Adam({ learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, clipNorm: 1 });
  const random = new Random(1234);
  const cropLength = Math.round(CROP_SECONDS * config.sampleRate);
  const data = new Float32Array(BATCH * cropLength);
  for (let b = 0; b < BATCH; b++) data.set(new SpeechLike(config.sampleRate, 100 + b).next(cropLength), b * cropLength);
  const batch = tf.tensor2d(data, [BATCH, cropLength]);
  const numActive = config.quantizer.numCodebooks;
  let parallel: DataParallel | undefined;
  try {
    if (workers > 1) {
      try {
        parallel = await DataParallel.start(model, workers, backend, adversary?.discriminator.shape);
      } catch (err) {
        return { backend, workers, unavailable: `data-parallel training: not available (${String((err as Error)?.message ?? err).slice(0, 200)})` };
      }
    }
    const ctx = { model, optimizer: adam, losses: { weights, stftWindows: STFT_WINDOWS }, random: random.next, adversary };
    const step = async () =>
      parallel
        ? parallel.step(ctx, { samples: data, rows: BATCH, length: cropLength }, numActive)
        : trainStep(ctx, batch, numActive);
    const label = `${backend}${workers > 1 ? ` × ${workers} workers` : ''}${gan ? ' + GAN' : ''}`;
    for (let i = 0; i < options.warmup; i++) {
      const t0 = performance.now();
      await step();
      progress(`${label}: warm-up step ${i + 1}/${options.warmup} ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    }
    const tensorsBefore = tf.memory().numTensors;
    const times: number[] = [];
    for (let i = 0; i < options.steps; i++) {
      const t0 = performance.now();
      const stats = await step();
      times.push((performance.now() - t0) / 1000);
      progress(`${label}: step ${i + 1}/${options.steps} ${times.at(-1)!.toFixed(2)} s (loss ${stats.total.toFixed(4)})`);
    }
    const tensorsAfter = tf.memory().numTensors;
    const med = median(times);
    const figures: TrainFigures = {
      backend,
      workers,
      gan,
      warmupSteps: options.warmup,
      timedSteps: options.steps,
      medianStepSeconds: round(med, 3),
      audioSecPerSec: round((BATCH * CROP_SECONDS) / med, 3),
      achievedGflops: round((3 * options.forwardGflopPerStep) / med, 2),
      tensorsBefore,
      tensorsAfter,
      tensorGrowthPerStep: (tensorsAfter - tensorsBefore) / Math.max(1, options.steps),
      peakRssMB: peakRssMB(),
    };
    if (options.profile && !parallel) figures.topKernels = await profileStep(step);
    return figures;
  } finally {
    await parallel?.close();
    batch.dispose();
    adam.dispose();
    model.dispose();
    adversary?.discriminator.dispose();
    adversary?.optimizer.dispose();
  }
}

/** Kernel time of one training step (tf.profile), the ten largest by total time. */
async function profileStep(step: () => unknown): Promise<{ kernel: string; ms: number; share: number }[]> {
  progress('profiling one step');
  const info = await tf.profile(() => {
    void step(); // single-process: trainStep runs synchronously inside
  });
  const byName = new Map<string, number>();
  const backend = tf.getBackend();
  for (const k of info.kernels) {
    // Only registered kernels: custom ops (tf.customGrad's 'forward') wrap kernels counted on their own.
    if (tf.getKernel(k.name, backend) === undefined) continue;
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    byName.set(k.name, (byName.get(k.name) ?? 0) + ms);
  }
  const total = [...byName.values()].reduce((a, b) => a + b, 0);
  return [...byName.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 10)
    .map(([kernel, ms]) => ({ kernel, ms: round(ms, 1), share: round(ms / total, 3) }));
}

interface CodingFigures {
  backend: string;
  seconds: number;
  encodeMedianSeconds: number;
  decodeMedianSeconds: number;
  encodeRTF: number;
  decodeRTF: number;
  /** Audio seconds per wall second of encode followed by decode. */
  codecRTF: number;
}

/** Encode and decode real-time factor of a `seconds`-long signal, batch 1, default chunking. */
async function measureCoding(config: CodecConfig, backend: string, seconds: number, repeats: number): Promise<CodingFigures> {
  await initBackend(backend);
  const codec = Codec.create(config, 1);
  try {
    const x = new SpeechLike(config.sampleRate, 7).next(Math.round(seconds * config.sampleRate));
    // Warm-up on a short piece (first-use kernel set-up), not timed.
    codec.decode(codec.encode(x.subarray(0, Math.min(x.length, 2 * config.sampleRate))));
    const enc: number[] = [];
    const dec: number[] = [];
    let tokens = codec.encode(x.subarray(0, 1));
    for (let i = 0; i < repeats; i++) {
      let t0 = performance.now();
      tokens = codec.encode(x);
      enc.push((performance.now() - t0) / 1000);
      t0 = performance.now();
      codec.decode(tokens);
      dec.push((performance.now() - t0) / 1000);
      progress(`${backend}: ${seconds} s encoded in ${enc.at(-1)!.toFixed(2)} s, decoded in ${dec.at(-1)!.toFixed(2)} s`);
    }
    const e = median(enc);
    const d = median(dec);
    return {
      backend,
      seconds,
      encodeMedianSeconds: round(e, 3),
      decodeMedianSeconds: round(d, 3),
      encodeRTF: round(seconds / e, 2),
      decodeRTF: round(seconds / d, 2),
      codecRTF: round(seconds / (e + d), 2),
    };
  } finally {
    codec.dispose();
  }
}

/** Writes `minutes` of 16-bit speech-like audio, generated and written block by block. */
async function writeLongWav(file: string, minutes: number, sampleRate: number): Promise<void> {
  const length = Math.round(minutes * 60 * sampleRate);
  const source = new SpeechLike(sampleRate, 99);
  const writer = await WavFileWriter.open(file, length, sampleRate);
  const block = 10 * sampleRate;
  for (let done = 0; done < length; done += block) await writer.write(source.next(Math.min(block, length - done)));
  await writer.close();
}

interface ChildFigures {
  minutes: number;
  peakRssMB: number;
  encodeSeconds: number;
  encodeRTF: number;
  frames: number;
  bytes: number;
}

/** Runs `bench.js --child encode` on `wav` and returns what it reports (its own peak RSS). */
async function streamingEncodeInChild(wav: string, out: string, config: CodecConfig, backend: string, minutes: number): Promise<ChildFigures> {
  const args = [SCRIPT, '--child', 'encode', '--wav', wav, '--out', out, '--config-json', JSON.stringify(config), '--backend', backend];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`the streaming-encode child failed (exit ${code}): ${stderr.slice(0, 300)}`);
  const line = stdout.trim().split('\n').at(-1) ?? '';
  return { minutes, ...(JSON.parse(line) as Omit<ChildFigures, 'minutes'>) };
}

/** Child mode: streaming-encode one WAV file with a fresh codec and report this process's peak RSS. */
async function childEncode(values: Record<string, string | boolean | undefined>): Promise<void> {
  const config = makeConfig(JSON.parse(String(values['config-json'])) as DeepPartial<CodecConfig>);
  await initBackend(String(values.backend ?? 'wasm'));
  const codec = Codec.create(config, 1);
  const t0 = performance.now();
  const { header, bytes } = await encodeWavFile(codec, String(values.wav), String(values.out));
  const seconds = (performance.now() - t0) / 1000;
  const audioSeconds = header.originalLength / config.sampleRate;
  console.log(JSON.stringify({ peakRssMB: peakRssMB(), encodeSeconds: round(seconds, 2), encodeRTF: round(audioSeconds / seconds, 2), frames: header.frames, bytes }));
  codec.dispose();
}

function loadConfig(values: Record<string, string | boolean | undefined>): Promise<{ name: string; config: CodecConfig }> | { name: string; config: CodecConfig } {
  if (typeof values.config === 'string') {
    const file = values.config;
    return fs.readFile(file, 'utf8').then((text) => {
      let overrides: DeepPartial<CodecConfig>;
      try {
        overrides = JSON.parse(text);
      } catch {
        throw new VqcodecError(`${file} is not valid JSON`);
      }
      // A model directory's config.json from before the split holds training settings: the shape is what counts here.
      return { name: path.basename(file), config: makeConfig({ ...overrides, quantizer: splitQuantizerFields(overrides.quantizer ?? {}).shape }) };
    });
  }
  const preset = typeof values.preset === 'string' ? values.preset : 'default';
  if (!(preset in PRESETS)) throw new VqcodecError(`unknown preset '${preset}' (choose one of ${Object.keys(PRESETS).join(', ')})`);
  return { name: `preset ${preset}`, config: makeConfig(PRESETS[preset]) };
}

function positiveInt(name: string, value: string | boolean | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!(Number.isInteger(n) && n > 0)) throw new VqcodecError(`${name} must be a positive integer (got '${String(value)}')`);
  return n;
}

function positiveNumber(name: string, value: string | boolean | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0)) throw new VqcodecError(`${name} must be a positive number (got '${String(value)}')`);
  return n;
}

interface TorchFigures {
  threads: number;
  trainAudioSecPerSec: number;
  encodeRTF: number;
  decodeRTF: number;
  parameters: number;
  forwardGflopPerAudioSec: number;
  torch: string;
}

/** A receptive field in frames: "±9" when both sides are equal, "6 before, 0 after" otherwise. */
function contextText({ before, after }: FrameContext): string {
  return before === after ? `±${before}` : `${before} before, ${after} after`;
}

/**
 * The same network in PyTorch (demos/torch_reference.py, Debian's python3-torch), for scale.
 * Only run with --torch and when `import torch` works: PyTorch is never a dependency.
 */
async function measureTorch(config: CodecConfig, threads: number, steps: number): Promise<TorchFigures | string> {
  const python = '/usr/bin/python3';
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-torch-'));
  try {
    const configFile = path.join(dir, 'config.json');
    await fs.writeFile(configFile, JSON.stringify(config));
    const script = path.join(path.dirname(SCRIPT), '..', '..', 'demos', 'torch_reference.py');
    const child = spawn(python, [script, '--config', configFile, '--threads', String(threads), '--steps', String(steps)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number>((resolve) => {
      child.on('close', (c) => resolve(c ?? 1));
      child.on('error', () => resolve(127));
    });
    if (code !== 0) return `PyTorch reference unavailable (${python} ${path.basename(script)} exited ${code}: ${stderr.trim().split('\n').pop() ?? ''})`;
    return JSON.parse(stdout.trim().split('\n').pop()!) as TorchFigures;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      config: { type: 'string' },
      preset: { type: 'string' },
      backends: { type: 'string' },
      steps: { type: 'string' },
      'long-minutes': { type: 'string' },
      'skip-long': { type: 'boolean' },
      json: { type: 'string' },
      workers: { type: 'string' },
      profile: { type: 'boolean' },
      gan: { type: 'boolean' },
      'coding-seconds': { type: 'string' },
      torch: { type: 'boolean' },
      // child mode
      child: { type: 'string' },
      wav: { type: 'string' },
      out: { type: 'string' },
      'config-json': { type: 'string' },
      backend: { type: 'string' },
    },
    strict: true,
  });
  if (values.child === 'encode') return childEncode(values);
  if (values.child !== undefined) throw new VqcodecError(`unknown child mode '${values.child}'`);

  const { name: configName, config } = await loadConfig(values);
  const backends = (values.backends ?? 'wasm').split(',').map((b) => b.trim()).filter((b) => b !== '');
  const workers = positiveInt('--workers', values.workers, 1);
  const longMinutes = positiveNumber('--long-minutes', values['long-minutes'], 30);
  const codingSeconds = positiveNumber('--coding-seconds', values['coding-seconds'], CODING_SECONDS);

  // Model figures, counted from the config (on the first backend: tensors need one).
  await initBackend(backends[0]);
  const probe = new VqVae(config, 1);
  const macsPerSample = probe.macsPerSample();
  const encoderGflopPerAudioSec = (probe.encoder.macsPerSample() * 2 * config.sampleRate) / 1e9;
  const decoderGflopPerAudioSec = (probe.decoder.macsPerSample() * 2 * config.sampleRate) / 1e9;
  const parameters = Object.values(probe.inferenceArrays()).reduce((s, a) => s + a.data.length, 0);
  const context = `encoder ${contextText(probe.encoderContext)}, decoder ${contextText(probe.decoderContext)}`;
  probe.dispose();
  const forwardGflopPerAudioSec = (macsPerSample * 2 * config.sampleRate) / 1e9;
  const forwardGflopPerStep = forwardGflopPerAudioSec * BATCH * CROP_SECONDS;
  const hop = hopLength(config);
  progress(`${configName}: ${(parameters / 1e6).toFixed(2)} M parameters, ${forwardGflopPerAudioSec.toFixed(3)} forward GFLOP per audio-second`);

  // Training, per backend (single process); then the data-parallel hook.
  const training: TrainFigures[] = [];
  const notes: string[] = [];
  for (const backend of backends) {
    const slow = backend === 'cpu' && values.steps === undefined;
    const options = { warmup: slow ? 1 : 2, steps: slow ? 2 : positiveInt('--steps', values.steps, 10), forwardGflopPerStep, profile: values.profile === true };
    if (slow) notes.push('cpu backend: 2 timed steps after 1 warm-up (a step takes minutes there); pass --steps to change');
    progress(`training on ${backend}: batch ${BATCH} × ${CROP_SECONDS} s, ${options.warmup} warm-up + ${options.steps} timed steps`);
    const result = await measureTraining(config, backend, 1, options);
    if ('unavailable' in result) throw new Error('single-process training is always available');
    training.push(result);
  }
  let parallelNote: string | undefined;
  if (workers > 1) {
    const result = await measureTraining(config, backends[0]!, workers, { warmup: 2, steps: positiveInt('--steps', values.steps, 10), forwardGflopPerStep, profile: false });
    if ('unavailable' in result) {
      parallelNote = result.unavailable;
      progress(parallelNote);
    } else {
      training.push(result);
    }
  }
  if (values.gan) {
    // The adversarial step's cost, with the same replicas as the headline figure.
    progress(`training against the discriminator on ${backends[0]}`);
    const result = await measureTraining(config, backends[0]!, workers, { warmup: 2, steps: positiveInt('--steps', values.steps, 10), forwardGflopPerStep, profile: false, gan: true });
    if ('unavailable' in result) notes.push(result.unavailable);
    else training.push(result);
  }
  const trainPeakRssMB = peakRssMB();

  // Encode / decode real-time factor on the first backend.
  progress(`coding ${codingSeconds} s on ${backends[0]} (median of ${CODING_REPEATS})`);
  const coding = await measureCoding(config, backends[0]!, codingSeconds, CODING_REPEATS);
  const processPeakRssMB = peakRssMB();

  // Streaming encode of a long and a 1-minute file, each in a child process of its own.
  let long: ChildFigures | undefined;
  let short: ChildFigures | undefined;
  if (!values['skip-long']) {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-bench-'));
    try {
      for (const minutes of [1, longMinutes]) {
        const wav = path.join(dir, `${minutes}min.wav`);
        progress(`writing ${minutes} min of 16-bit audio at ${config.sampleRate} Hz`);
        await writeLongWav(wav, minutes, config.sampleRate);
        progress(`streaming-encoding ${minutes} min in a child process`);
        const figures = await streamingEncodeInChild(wav, path.join(dir, `${minutes}min.vqt`), config, backends[0]!, minutes);
        progress(`${minutes} min: peak RSS ${figures.peakRssMB} MB, ${figures.encodeRTF}× real time`);
        if (minutes === 1) short = figures;
        else long = figures;
        await fs.rm(wav, { force: true });
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }

  // PyTorch on the same config, 1 and 2 threads (--torch).
  const torch: TorchFigures[] = [];
  let torchNote: string | undefined;
  if (values.torch) {
    for (const threads of [1, 2]) {
      progress(`PyTorch reference, ${threads} thread(s)`);
      const result = await measureTorch(config, threads, positiveInt('--steps', values.steps, 10));
      if (typeof result === 'string') {
        torchNote = result;
        break;
      }
      torch.push(result);
    }
  }

  // The report. The headline training figure: the first backend, with --workers replicas when measured.
  const first = training.find((t) => t.backend === backends[0] && t.workers === workers && !t.gan) ?? training[0]!;
  const withGan = training.find((t) => t.gan);
  const single = training[0]!;
  const threads = await wasmThreads(backends[0]!);
  const out: string[] = [];
  out.push(`vqcodec benchmark: ${configName}, ${(parameters / 1e6).toFixed(2)} M parameters, hop ${hop}, context frames ${context}; node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, load average ${os.loadavg()[0]!.toFixed(2)}`);
  out.push('');
  out.push(
    table(
      ['training (batch 8 × 1 s)', 'steps', 'median step s', 'audio-s/s', 'GFLOP/s (3× fwd)', 'tensors before→after', 'growth/step', 'peak RSS MB'],
      training.map((t) => [
        `${t.backend}${t.workers > 1 ? ` × ${t.workers} workers` : ''}${t.gan ? ' + GAN' : ''}`,
        `${t.warmupSteps}+${t.timedSteps}`,
        t.medianStepSeconds,
        t.audioSecPerSec,
        t.achievedGflops,
        `${t.tensorsBefore}→${t.tensorsAfter}`,
        t.tensorGrowthPerStep,
        t.peakRssMB,
      ]),
    ),
  );
  out.push(`achieved GFLOP/s counts a training step as 3 × its forward FLOPs (backward ≈ 2 × forward); forward ${forwardGflopPerStep.toFixed(2)} GFLOP per step`);
  if (withGan) out.push(`+ GAN: the codec's FLOPs only (the discriminator's are not counted); a GAN step takes ${round(withGan.medianStepSeconds / first.medianStepSeconds, 2)}× a plain one`);
  if (parallelNote) out.push(parallelNote);
  for (const note of notes) out.push(note);
  for (const t of training) {
    if (!t.topKernels) continue;
    out.push('');
    out.push(table([`top kernels of one step (${t.backend})`, 'ms', 'share'], t.topKernels.map((k) => [k.kernel, k.ms, `${(100 * k.share).toFixed(1)} %`])));
  }
  out.push('');
  const codingRows: (string | number)[][] = [
    ['forward GFLOP per audio-second', round(forwardGflopPerAudioSec, 3)],
    [`encode RTF (${coding.seconds} s, batch 1, ${coding.backend})`, `${coding.encodeRTF}×  (${coding.encodeMedianSeconds} s, ${round((encoderGflopPerAudioSec * coding.seconds) / coding.encodeMedianSeconds, 1)} GFLOP/s)`],
    [`decode RTF`, `${coding.decodeRTF}×  (${coding.decodeMedianSeconds} s, ${round((decoderGflopPerAudioSec * coding.seconds) / coding.decodeMedianSeconds, 1)} GFLOP/s)`],
    ['encode + decode RTF', `${coding.codecRTF}×`],
    ['peak RSS of this process (training + coding)', `${processPeakRssMB} MB (after training: ${trainPeakRssMB} MB)`],
  ];
  if (short && long) {
    codingRows.push(['streaming encode, 1 min file: child peak RSS', `${short.peakRssMB} MB (${short.encodeRTF}× real time)`]);
    codingRows.push([`streaming encode, ${long.minutes} min file: child peak RSS`, `${long.peakRssMB} MB (${long.encodeRTF}× real time)`]);
    codingRows.push([`ratio ${long.minutes} min / 1 min`, `${round(long.peakRssMB / short.peakRssMB, 3)} (bar: ≤ 1.2, and ≤ 1024 MB)`]);
  } else {
    codingRows.push(['long-file streaming encode', 'skipped (--skip-long)']);
  }
  out.push(table(['coding', 'value'], codingRows));
  if (torch.length > 0) {
    out.push('');
    out.push(
      table(
        ['PyTorch, same config', 'train audio-s/s', 'vqcodec ÷ PyTorch (train)', 'encode RTF', 'decode RTF'],
        torch.map((t) => [`${t.torch}, ${t.threads} thread(s)`, t.trainAudioSecPerSec, round(first.audioSecPerSec / t.trainAudioSecPerSec, 3), t.encodeRTF, t.decodeRTF]),
      ),
    );
  }
  if (torchNote) out.push(torchNote);
  const json = {
    config: configName,
    parameters,
    backend: first.backend,
    threads,
    workers: first.workers,
    trainAudioSecPerSec: first.audioSecPerSec,
    trainAudioSecPerSecSingleProcess: single.audioSecPerSec,
    trainStepSeconds: first.medianStepSeconds,
    trainGanStepSeconds: withGan?.medianStepSeconds ?? null,
    trainGflops: first.achievedGflops,
    tensorGrowthPerStep: first.tensorGrowthPerStep,
    encodeRTF: coding.encodeRTF,
    decodeRTF: coding.decodeRTF,
    codecRTF: coding.codecRTF,
    forwardGflopPerAudioSec: round(forwardGflopPerAudioSec, 4),
    encoderGflopPerAudioSec: round(encoderGflopPerAudioSec, 4),
    decoderGflopPerAudioSec: round(decoderGflopPerAudioSec, 4),
    encodeGflops: round((encoderGflopPerAudioSec * coding.seconds) / coding.encodeMedianSeconds, 2),
    decodeGflops: round((decoderGflopPerAudioSec * coding.seconds) / coding.decodeMedianSeconds, 2),
    peakRssMB: processPeakRssMB,
    trainPeakRssMB,
    longFilePeakRssMB: long?.peakRssMB ?? null,
    longFileMinutes: long?.minutes ?? null,
    longFileEncodeRTF: long?.encodeRTF ?? null,
    shortFilePeakRssMB: short?.peakRssMB ?? null,
    longToShortRssRatio: long && short ? round(long.peakRssMB / short.peakRssMB, 3) : null,
    parallel: parallelNote ?? null,
    torch: torch.length > 0 ? torch : (torchNote ?? null),
    training,
    node: process.version,
    cpus: os.cpus().length,
    loadAverage: round(os.loadavg()[0]!, 2),
    date: new Date().toISOString(),
  };
  const line = JSON.stringify(json);
  if (typeof values.json === 'string') await fs.writeFile(values.json, `${JSON.stringify(json, null, 2)}\n`);
  console.log(out.join('\n'));
  console.log(line);
}

/** XNNPACK's thread count on wasm (1 in Node: the threaded build does not start); 1 elsewhere. */
async function wasmThreads(backend: string): Promise<number> {
  if (backend !== 'wasm') return 1;
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    return wasm.getThreadsCount();
  } catch {
    return 1;
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    // Never let an exception escape with the wasm backend loaded: it prints its whole minified source.
    const e = err as Error;
    process.stderr.write(`bench: ${err instanceof VqcodecError ? '' : 'error: '}${String(e?.message ?? err).slice(0, 300)}\n`);
    if (process.env.VQCODEC_DEBUG) process.stderr.write(`${String(e?.stack).slice(0, 2000)}\n`);
    process.exit(1);
  },
);
