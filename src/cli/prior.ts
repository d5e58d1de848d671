import path from 'node:path';
import { loadAudio } from '../audio/load.js';
import { writeWav } from '../audio/wavFs.js';
import { VqcodecError } from '../errors.js';
import { exportStrides, priorGrid } from '../prior/data.js';
import { histogramEntropy, pluginEntropyBias } from '../entropy/unigram.js';
import { priorCrossEntropy } from '../prior/evaluate.js';
import { generate, generationSteps } from '../prior/generate.js';
import { checkPriorCodec, loadPrior } from '../prior/store.js';
import { checkPriorStrides } from '../prior/superFrames.js';
import { storedCodeCount, stridesOf } from '../tokens/codeStrides.js';
import { DEFAULT_PRIOR_OPTIONS, trainPrior, type PriorTrainRequest } from '../prior/trainer.js';
import { readTokenExport } from '../tokens/export.js';
import { readTokenFile } from '../tokens/tokenFileFs.js';
import { evenlySpaced } from '../train/data.js';
import { DEFAULT_TRAIN_OPTIONS } from '../train/options.js';
import { intOption, loadCodec, numberOption, startBackend, type GlobalOptions } from './common.js';
import { fixed, note, progressBar } from './ui.js';

export interface PriorTrainCommandOptions extends GlobalOptions {
  tokens: string;
  out: string;
  steps?: string;
  batch?: string;
  lr?: string;
  lrDecayFrom?: string;
  codebooks?: string;
  width?: string;
  layers?: string;
  heads?: string;
  context?: string;
  dropout?: string;
  seed?: string;
  resume?: boolean;
  init?: string;
  addLayers?: string;
  workers?: string;
  fileStarts?: string;
}

/** vqcodec prior train --tokens DIR --out RUN */
export async function priorTrainCommand(options: PriorTrainCommandOptions): Promise<void> {
  const d = DEFAULT_PRIOR_OPTIONS;
  const model = {
    numCodebooks: intOption('--codebooks', options.codebooks) ?? d.model.numCodebooks,
    width: intOption('--width', options.width) ?? d.model.width,
    layers: intOption('--layers', options.layers) ?? d.model.layers,
    heads: intOption('--heads', options.heads) ?? d.model.heads,
    context: intOption('--context', options.context) ?? d.model.context,
  };
  const trainOptions: PriorTrainRequest = {
    ...d,
    tokens: options.tokens,
    outDir: options.out,
    model,
    steps: intOption('--steps', options.steps),
    batchSize: intOption('--batch', options.batch) ?? d.batchSize,
    learningRate: numberOption('--lr', options.lr) ?? d.learningRate,
    lrDecayFrom: intOption('--lr-decay-from', options.lrDecayFrom),
    dropout: numberOption('--dropout', options.dropout) ?? d.dropout,
    seed: intOption('--seed', options.seed) ?? d.seed,
    ...(options.init !== undefined ? { initFrom: options.init } : {}),
    // On --resume the run keeps its own workers unless --workers is given.
    ...(options.workers !== undefined || !options.resume ? { workers: intOption('--workers', options.workers) ?? DEFAULT_TRAIN_OPTIONS.workers } : {}),
    ...(options.fileStarts !== undefined ? { fileStarts: numberOption('--file-starts', options.fileStarts) } : {}),
    ...(options.addLayers !== undefined ? { addLayers: intOption('--add-layers', options.addLayers) } : {}),
  };
  const shapeFlags = (['codebooks', 'width', 'layers', 'heads', 'context'] as const).filter((k) => options[k] !== undefined);
  if (options.init !== undefined && shapeFlags.length > 0) throw new VqcodecError(`--init takes the prior's own shape: leave out ${shapeFlags.map((k) => `--${k}`).join(', ')}`);
  if (options.init !== undefined && options.resume) throw new VqcodecError('--init starts a new run: leave it out with --resume');
  if (options.addLayers !== undefined && options.init === undefined) throw new VqcodecError('--add-layers grows the prior of --init: give --init PRIOR_DIR');
  if (trainOptions.dropout !== undefined && !(trainOptions.dropout >= 0 && trainOptions.dropout < 1)) throw new VqcodecError(`--dropout must be at least 0 and below 1 (got ${trainOptions.dropout})`);
  await startBackend(options);
  let bar = progressBar(1, '');
  const started = performance.now();
  const prior = await trainPrior(trainOptions, options.resume ?? false, {
    onStart(info) {
      note(`training a prior of ${info.parameters.toLocaleString('en')} parameters on ${info.trainFiles} files (${info.validFiles} held out), steps ${info.startStep + 1}..${info.steps}`);
      bar = progressBar(info.steps, 'prior |{bar}| {value}/{total} | {bits} bits/token | {speed} tokens/s | ETA {eta_formatted}', { bits: '-', speed: '-' });
      bar.update(info.startStep);
    },
    onStep(step, log) {
      bar.update(step, log ? { bits: fixed(log.bitsPerToken, 3), speed: fixed(log.tokensPerSecond ?? NaN, 0) } : undefined);
      if (log && !process.stderr.isTTY && !options.quiet) note(`step ${step}: ${fixed(log.bitsPerToken, 3)} bits/token, ${fixed(log.tokensPerSecond ?? NaN, 0)} tokens/s`);
    },
    onValidate(v) {
      const perCodebook = (v.bitsPerCodebook ?? []).map((b, q) => `${q}: ${fixed(b, 3)}`).join(', ');
      if (!options.quiet) note(`\nvalidation at step ${v.step}: ${fixed(v.bitsPerToken, 3)} bits/token (per codebook ${perCodebook})`);
    },
    onSkip(entry) {
      note(`${process.stderr.isTTY ? '\n' : ''}step ${entry.step} skipped (${entry.reason}): nothing learnt from it; learning rate × ${entry.lrFactor} from now on`);
    },
  });
  bar.stop();
  prior.dispose();
  console.log(`${path.join(options.out, 'prior')}: trained in ${((performance.now() - started) / 60000).toFixed(1)} min`);
}

export interface PriorEvalCommandOptions extends GlobalOptions {
  prior: string;
  tokens: string;
  limit?: string;
  json?: boolean;
}

/** vqcodec prior eval --prior DIR --tokens DIR [--limit n] [--json]: bits per code against the unigram entropy. */
export async function priorEvalCommand(options: PriorEvalCommandOptions): Promise<void> {
  await startBackend(options);
  const { prior, codec: trainedOn, fingerprint } = await loadPrior(options.prior);
  try {
    const data = await readTokenExport(options.tokens);
    checkPriorCodec(trainedOn, data.codec.fingerprint);
    const strides = exportStrides(data, prior.config.numCodebooks);
    checkPriorStrides(prior.config, strides);
    const limit = intOption('--limit', options.limit);
    if (limit !== undefined && limit < 1) throw new VqcodecError(`--limit must be at least 1 (got ${limit})`);
    const picked = evenlySpaced(data.codes.map((codes, i) => ({ codes, Q: data.codebooks[i]! })), limit ?? data.codes.length);
    const grids = picked.map((p) => priorGrid(p.codes, p.Q, strides, prior.config.codebookSize));
    const bar = progressBar(grids.length, 'eval |{bar}| {value}/{total} files | ETA {eta_formatted}');
    const started = performance.now();
    const result = priorCrossEntropy(prior, grids, (done) => bar.update(done));
    bar.stop();
    const K = prior.config.codebookSize;
    const rows = result.bitsPerCodebook.map((bits, q) => {
      const unigram = histogramEntropy(result.counts[q]!);
      return { codebook: q, bitsPerCode: bits, unigramEntropy: unigram, unigramBias: pluginEntropyBias(K, result.codes[q]!), belowUnigram: 1 - bits / unigram, codes: result.codes[q]! };
    });
    const mean = (key: 'bitsPerCode' | 'unigramEntropy') => rows.reduce((a, r) => a + r[key] * r.codes, 0) / rows.reduce((a, r) => a + r.codes, 0);
    const summary = { bitsPerCode: mean('bitsPerCode'), unigramEntropy: mean('unigramEntropy'), belowUnigram: 1 - mean('bitsPerCode') / mean('unigramEntropy') };
    const seconds = (performance.now() - started) / 1000;
    if (options.json) {
      console.log(JSON.stringify({ prior: fingerprint, files: grids.length, perCodebook: rows, all: summary, seconds }, null, 2));
      return;
    }
    console.log(`prior ${fingerprint} on ${grids.length} files of ${options.tokens} (${fixed(seconds, 1)} s)\n`);
    console.log('bits per code       prior   unigram   below unigram');
    for (const r of rows) console.log(`codebook ${String(r.codebook).padEnd(8)} ${fixed(r.bitsPerCode, 3).padStart(7)} ${fixed(r.unigramEntropy, 3).padStart(9)} ${(r.belowUnigram * 100).toFixed(1).padStart(13)} %`);
    console.log(`${'all'.padEnd(17)} ${fixed(summary.bitsPerCode, 3).padStart(7)} ${fixed(summary.unigramEntropy, 3).padStart(9)} ${(summary.belowUnigram * 100).toFixed(1).padStart(13)} %`);
    console.log(`(unigram entropy: of these files' own codes, low by about ${fixed(rows[0]!.unigramBias, 3)} bits at ${rows[0]!.codes.toLocaleString('en')} codes a codebook)`);
  } finally {
    prior.dispose();
  }
}

export interface GenerateCommandOptions extends GlobalOptions {
  prior: string;
  seconds?: string;
  temperature?: string;
  topK?: string;
  seed?: string;
  prompt?: string;
}

/** vqcodec generate --prior DIR --seconds S [--prompt in.wav|in.vqt] out.wav */
export async function generateCommand(output: string, options: GenerateCommandOptions): Promise<void> {
  const seconds = numberOption('--seconds', options.seconds) ?? 5;
  if (!(seconds > 0)) throw new VqcodecError(`--seconds must be > 0 (got ${seconds})`);
  const codec = await loadCodec(options);
  const { prior, codec: trainedOn } = await loadPrior(options.prior);
  const Q = prior.config.numCodebooks;
  if (Q > codec.numCodebooks) throw new VqcodecError(`the prior models ${Q} codebooks; the codec has ${codec.numCodebooks}`);
  checkPriorCodec(trainedOn, codec.fingerprint);
  const strides = stridesOf(prior.config);
  checkPriorStrides(prior.config, codec.codeStrides);
  let prompt: Int32Array | undefined;
  if (options.prompt !== undefined) {
    const tokens = options.prompt.endsWith('.vqt') ? await readTokenFile(options.prompt, { context: codec.contextModel }) : codec.encode((await loadAudio(options.prompt, codec.sampleRate)).samples, { numCodebooks: Q });
    checkPriorCodec(trainedOn, tokens.modelFingerprint);
    if (tokens.numCodebooks < Q) throw new VqcodecError(`the prompt has ${tokens.numCodebooks} codebooks; the prior needs ${Q}`);
    checkPriorStrides(prior.config, stridesOf(tokens));
    prompt = new Int32Array(tokens.frames * Q);
    for (let f = 0; f < tokens.frames; f++) prompt.set(tokens.codes.subarray(f * tokens.numCodebooks, f * tokens.numCodebooks + Q), f * Q);
  }
  const promptFrames = (prompt?.length ?? 0) / Q;
  const frames = promptFrames + Math.max(1, Math.round(seconds * codec.frameRate));
  const bar = progressBar(generationSteps(prior.config, frames), 'generate |{bar}| {value}/{total} steps | ETA {eta_formatted}');
  const started = performance.now();
  const codes = generate(prior, {
    frames,
    temperature: numberOption('--temperature', options.temperature) ?? 1,
    topK: intOption('--top-k', options.topK),
    seed: intOption('--seed', options.seed) ?? 1,
    prompt,
    onStep: (s) => bar.update(s),
  });
  bar.stop();
  const elapsed = (performance.now() - started) / 1000;
  prior.dispose();
  const samples = codec.decode({ ...codec.tokenHeader(frames * codec.hop, Q), codes });
  await writeWav(output, { samples, sampleRate: codec.sampleRate });
  const generated = storedCodeCount(frames, strides) - storedCodeCount(promptFrames, strides);
  console.log(`${output}: ${(samples.length / codec.sampleRate).toFixed(2)} s (${promptFrames} prompt frames + ${frames - promptFrames} generated), ${generated} tokens at ${(generated / elapsed).toFixed(0)} tokens/s`);
}
