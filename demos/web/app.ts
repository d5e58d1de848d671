/**
 * The web page: vqcodec's own modules (no second implementation) on TensorFlow.js in the
 * browser. Open a WAV (or any audio the browser decodes, or a microphone recording), encode it
 * to tokens at 1…8 codebooks and decode it; hear and see both; download the .vqt and the
 * decoded WAV; open a .vqt from the CLI and decode it. Bundled by ./build.ts, served by ./serve.ts.
 *
 * Backend: wasm (tfjs-backend-wasm, the CLI's default: same kernels, same numbers) unless the
 * browser has a hardware WebGL and a timed decode finds it faster; `?backend=wasm|webgl|cpu`
 * forces one.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { prepareAudio, type DecodedAudio } from '../../src/audio/prepare.js';
import { isWav, sniffSampleRate } from '../../src/audio/sniff.js';
import { decodeWav, encodeWav } from '../../src/audio/wav.js';
import { initBackend } from '../../src/backend.js';
import { Codec, keepFirstCodebooks, type CodecFiles } from '../../src/codec.js';
import { compressionRatio } from '../../src/eval/metrics.js';
import type { RgbImage } from '../../src/eval/rgbImage.js';
import { spectrogramImage, type FigurePanel } from '../../src/eval/spectrogramImage.js';
import { tokenGridImage } from '../../src/eval/tokenGridImage.js';
import type { TokenCoding } from '../../src/entropy/payload.js';
import { decodeTokenFile, inspectTokenFile, encodeTokenFile } from '../../src/tokens/tokenFile.js';
import { MAGIC } from '../../src/tokens/tokenHeader.js';
import type { Tokens } from '../../src/types.js';

const MODEL_URL = 'models/default/';

/** One coding of the clip at n codebooks. */
interface Run {
  n: number;
  tokens: Tokens;
  vqt: Uint8Array;
  decoded: Float32Array;
  encodeMs?: number;
  decodeMs: number;
}

/** What was opened: audio (encoded here) or a .vqt (decoded only). */
interface Clip {
  name: string;
  base: string;
  inputBytes: number;
  /** Mono samples at the model's rate, for audio inputs. */
  original?: Float32Array;
  /** The opened token file and its tokens, for .vqt inputs. */
  file?: { bytes: Uint8Array; tokens: Tokens; coding: TokenCoding };
  runs: Map<number, Run>;
}

const el = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`page: no #${id}`);
  return found as T;
};

let codec: Codec;
let backend = '';
let clip: Clip | undefined;
let selected = 0;
const urls: string[] = [];

function setState(state: 'loading' | 'ready' | 'busy' | 'done' | 'error', message: string): void {
  document.body.dataset.state = state;
  el('status').textContent = message;
}

/** Lets the browser paint the status before a long synchronous step. */
const paint = () => new Promise<void>((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));

async function fetchBytes(url: string, optional = false): Promise<Uint8Array | undefined> {
  const res = await fetch(url);
  if (!res.ok) {
    if (optional && res.status === 404) return undefined;
    throw new Error(`cannot fetch ${url}: HTTP ${res.status}`);
  }
  return new Uint8Array(await res.arrayBuffer());
}

async function modelFiles(): Promise<CodecFiles> {
  const [config, weights, contextModel] = await Promise.all([
    fetchBytes(MODEL_URL + 'config.json'),
    fetchBytes(MODEL_URL + 'weights.bin'),
    fetchBytes(MODEL_URL + 'context-model.bin', true),
  ]);
  return { config: config!, weights: weights!, ...(contextModel === undefined ? {} : { contextModel }) };
}

/** The unmasked WebGL renderer, or undefined without WebGL. */
function webglRenderer(): string | undefined {
  const canvas = document.createElement('canvas');
  const gl = canvas.getContext('webgl2') ?? canvas.getContext('webgl');
  if (gl === null) return undefined;
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = String(gl.getParameter(info !== null ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
  gl.getExtension('WEBGL_lose_context')?.loseContext();
  return renderer;
}

const SOFTWARE_GL = /swiftshader|llvmpipe|softpipe|software|basic render/i;

/** Milliseconds to decode 2 s of tokens, after one decode to warm up. */
function timeDecode(c: Codec): number {
  const header = c.tokenHeader(100 * c.hop);
  const tokens: Tokens = { ...header, codes: new Int32Array(header.frames * header.numCodebooks) };
  c.decode(tokens);
  const started = performance.now();
  c.decode(tokens);
  return performance.now() - started;
}

/** Starts a backend and builds the codec on it; returns why that backend. */
async function startCodec(files: CodecFiles): Promise<string> {
  const wanted = new URLSearchParams(location.search).get('backend') ?? 'auto';
  setWasmPaths(new URL('wasm/', location.href).href);
  if (wanted === 'webgl' || wanted === 'cpu') {
    tf.env().set('PROD', true);
    if (!(await tf.setBackend(wanted))) throw new Error(`backend ${wanted} does not start in this browser`);
    await tf.ready();
    codec = Codec.fromFiles(files);
    backend = wanted;
    return 'asked for in the address';
  }
  if (wanted !== 'wasm' && wanted !== 'auto') throw new Error(`unknown backend '${wanted}' in the address (wasm, webgl or cpu)`);
  backend = await initBackend('wasm');
  codec = Codec.fromFiles(files);
  if (wanted === 'wasm') return 'asked for in the address';
  const renderer = webglRenderer();
  if (renderer === undefined) return 'no WebGL in this browser';
  if (SOFTWARE_GL.test(renderer)) return `WebGL is software-rendered here (${renderer}), so wasm`;
  setState('loading', `timing wasm against WebGL (${renderer})…`);
  await paint();
  const wasmMs = timeDecode(codec);
  await tf.setBackend('webgl');
  const gl = Codec.fromFiles(files);
  const glMs = timeDecode(gl);
  const timing = `2 s of audio decoded in ${glMs.toFixed(0)} ms on WebGL, ${wasmMs.toFixed(0)} ms on wasm`;
  if (glMs < wasmMs) {
    codec.dispose();
    codec = gl;
    backend = 'webgl';
    return `${timing} (${renderer})`;
  }
  gl.dispose();
  await tf.setBackend('wasm');
  return timing;
}

function drawImage(canvas: HTMLCanvasElement, image: RgbImage): void {
  canvas.width = image.width;
  canvas.height = image.height;
  const context = canvas.getContext('2d')!;
  const data = context.createImageData(image.width, image.height);
  const px = image.pixels;
  for (let i = 0, j = 0; i < px.length; i += 3, j += 4) {
    data.data[j] = px[i]!;
    data.data[j + 1] = px[i + 1]!;
    data.data[j + 2] = px[i + 2]!;
    data.data[j + 3] = 255;
  }
  context.putImageData(data, 0, 0);
}

function objectUrl(bytes: Uint8Array, type: string): string {
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type }));
  urls.push(url);
  return url;
}

function setLink(id: string, bytes: Uint8Array, type: string, filename: string): void {
  const a = el<HTMLAnchorElement>(id);
  a.href = objectUrl(bytes, type);
  a.download = filename;
  a.setAttribute('aria-disabled', 'false');
}

const kbps = (bits: number) => `${(bits / 1000).toFixed(2)} kbps`;

function codingOf(): TokenCoding {
  return codec.contextModel !== undefined ? 'context' : 'none';
}

/** Encodes (audio) or re-reads (token file) the clip at n codebooks and decodes it. */
async function runAt(n: number): Promise<Run> {
  const c = clip!;
  const cached = c.runs.get(n);
  if (cached !== undefined) return cached;
  let run: Run;
  if (c.original !== undefined) {
    setState('busy', `encoding ${c.name} at ${n} codebook${n > 1 ? 's' : ''}…`);
    await paint();
    const t0 = performance.now();
    const tokens = codec.encode(c.original, { numCodebooks: n });
    const vqt = encodeTokenFile(tokens, { coding: codingOf(), models: { context: codec.contextModel } });
    const encodeMs = performance.now() - t0;
    setState('busy', `decoding ${n} codebook${n > 1 ? 's' : ''}…`);
    await paint();
    const t1 = performance.now();
    const decoded = codec.decode(tokens);
    run = { n, tokens, vqt, decoded, encodeMs, decodeMs: performance.now() - t1 };
  } else {
    const file = c.file!;
    const q = file.tokens.numCodebooks;
    const tokens = n === q ? file.tokens : { ...file.tokens, numCodebooks: n, codes: keepFirstCodebooks(file.tokens.codes, q, n) };
    const vqt = n === q ? file.bytes : encodeTokenFile(tokens, { coding: file.coding === 'prior' ? codingOf() : file.coding, models: { context: codec.contextModel } });
    setState('busy', `decoding ${c.name} at ${n} codebook${n > 1 ? 's' : ''}…`);
    await paint();
    const t1 = performance.now();
    const decoded = codec.decode(tokens);
    run = { n, tokens, vqt, decoded, decodeMs: performance.now() - t1 };
  }
  c.runs.set(n, run);
  return run;
}

function render(run: Run): void {
  const c = clip!;
  const rate = codec.sampleRate;
  const duration = run.tokens.originalLength / rate;
  const bits = (run.vqt.length * 8) / duration;
  const q = c.file?.tokens.numCodebooks ?? codec.numCodebooks;
  el('results').classList.remove('hidden');
  el('pictures').classList.remove('hidden');
  el('layout').classList.add('has-pictures');
  el('original-box').classList.toggle('hidden', c.original === undefined);
  if (c.original !== undefined) el<HTMLAudioElement>('original').src = objectUrl(encodeWav(c.original, rate), 'audio/wav');
  const wav = encodeWav(run.decoded, rate);
  const player = el<HTMLAudioElement>('decoded');
  const wasPlaying = !player.paused;
  const at = player.currentTime;
  player.src = objectUrl(wav, 'audio/wav');
  // Switching codebooks while listening goes on from the same moment: hear the difference.
  if (wasPlaying) {
    player.currentTime = at;
    void player.play().catch(() => undefined);
  }
  el('decoded-title').textContent = `decoded: ${run.n} codebook${run.n > 1 ? 's' : ''}, ${kbps(bits)}`;
  const realTime = (ms: number | undefined) => (ms === undefined ? 'n/a (opened as tokens)' : `${ms.toFixed(0)} ms (${((duration * 1000) / ms).toFixed(1)}× real time)`);
  const coding = inspectTokenFile(run.vqt).coding.coding;
  const rows: [string, string][] = [
    ['clip', `${c.name}: ${duration.toFixed(2)} s, mono at ${rate / 1000} kHz`],
    ['codebooks', `${run.n} of ${q}, ${run.tokens.frames} frames (${codec.frameRate} per second)`],
    ['.vqt file', `${run.vqt.length} bytes, ${coding === 'none' ? 'bit-packed' : coding === 'context' ? 'range-coded (context model)' : 'range-coded (prior)'}`],
    ['bitrate', `${kbps(bits)} (the whole file over the clip; nominal bit-packed ${kbps(codec.bitrate(run.n))})`],
    ['compression', `${compressionRatio(bits, rate).toFixed(0)}× against 16-bit PCM at ${rate / 1000} kHz (${kbps(16 * rate)})` + (c.original !== undefined ? `; the input file was ${(c.inputBytes / run.vqt.length).toFixed(0)}× larger` : '')],
    ['encode', realTime(run.encodeMs)],
    ['decode', realTime(run.decodeMs)],
    ['backend', `${backend}, model ${codec.fingerprint}`],
  ];
  const table = el('stats');
  table.replaceChildren(
    ...rows.map(([k, v]) => {
      const tr = document.createElement('tr');
      const th = document.createElement('th');
      th.textContent = k;
      const td = document.createElement('td');
      td.textContent = v;
      tr.append(th, td);
      return tr;
    }),
  );
  setLink('download-vqt', run.vqt, 'application/octet-stream', `${c.base}${c.original !== undefined || run.n !== q ? `.${run.n}cb` : ''}.vqt`);
  setLink('download-wav', wav, 'audio/wav', `${c.base}.decoded.${run.n}cb.wav`);
  const panels: FigurePanel[] = [];
  if (c.original !== undefined) panels.push({ label: 'original', samples: c.original });
  panels.push({ label: `decoded, ${run.n} codebook${run.n > 1 ? 's' : ''}, ${kbps(bits)}`, samples: run.decoded });
  drawImage(el<HTMLCanvasElement>('spectrogram'), spectrogramImage(panels, rate));
  const all = c.file?.tokens ?? c.runs.get(codec.numCodebooks)?.tokens ?? run.tokens;
  drawImage(el<HTMLCanvasElement>('tokens'), tokenGridImage(all.numCodebooks >= run.n ? all : run.tokens, { activeCodebooks: run.n }));
}

function renderCodebookButtons(): void {
  const q = clip?.file?.tokens.numCodebooks ?? codec.numCodebooks;
  const box = el('codebooks');
  box.replaceChildren(
    ...Array.from({ length: codec.numCodebooks }, (_, i) => {
      const n = i + 1;
      const label = document.createElement('label');
      label.title = `${n} codebook${n > 1 ? 's' : ''}: nominal ${kbps(codec.bitrate(n))}`;
      if (n > q) label.classList.add('disabled');
      const input = document.createElement('input');
      input.type = 'radio';
      input.name = 'codebooks';
      input.value = String(n);
      input.checked = n === selected;
      input.addEventListener('change', () => void choose(n));
      const span = document.createElement('span');
      span.textContent = String(n);
      label.append(input, span);
      return label;
    }),
  );
  el('codebook-note').textContent = `${kbps(codec.bitrate(selected))} nominal at ${selected}`;
}

async function choose(n: number): Promise<void> {
  selected = n;
  renderCodebookButtons();
  if (clip === undefined) return;
  await guarded(async () => {
    const run = await runAt(n);
    render(run);
    setState('done', `${clip!.name}: ${n} codebook${n > 1 ? 's' : ''} (backend ${backend})`);
  });
}

/** Runs `body` after whatever runs now (one coding at a time); errors go to the status line. False on error. */
let queue: Promise<unknown> = Promise.resolve();
function guarded(body: () => Promise<void>): Promise<boolean> {
  const run = queue.then(body).then(
    () => true,
    (err: Error) => {
      setState('error', err.message);
      return false;
    },
  );
  queue = run;
  return run;
}

/** Decodes a compressed audio file as node's loadAudio does: a context at the file's own rate. */
async function decodeWithBrowser(bytes: Uint8Array, name: string): Promise<DecodedAudio> {
  const context = new OfflineAudioContext(1, 1, sniffSampleRate(bytes) ?? 48000);
  let buffer: AudioBuffer;
  try {
    buffer = await context.decodeAudioData(new Uint8Array(bytes).buffer);
  } catch {
    throw new Error(`${name} is not a readable audio file (WAV, or a format this browser decodes)`);
  }
  const channels = Array.from({ length: buffer.numberOfChannels }, (_, c) => {
    const samples = new Float32Array(buffer.length);
    buffer.copyFromChannel(samples, c);
    return samples;
  });
  return { channels, sampleRate: buffer.sampleRate };
}

/** Opens a .vqt or an audio file (bytes and name). */
async function open(bytes: Uint8Array, name: string): Promise<void> {
  const opened = await guarded(async () => {
    setState('busy', `reading ${name}…`);
    await paint();
    const base = name.replace(/\.[^.]*$/, '') || 'clip';
    if (name.toLowerCase().endsWith('.vqt') || MAGIC.every((b, i) => bytes[i] === b)) {
      const tokens = decodeTokenFile(bytes, name, { context: codec.contextModel });
      const coding = inspectTokenFile(bytes, name).coding.coding;
      clip = { name, base, inputBytes: bytes.length, file: { bytes, tokens, coding }, runs: new Map() };
      selected = tokens.numCodebooks;
    } else {
      const decoded = isWav(bytes) ? decodeWav(bytes, name) : await decodeWithBrowser(bytes, name);
      const audio = prepareAudio(decoded, codec.sampleRate, name);
      clip = { name, base, inputBytes: bytes.length, original: audio.samples, runs: new Map() };
      if (selected === 0) selected = codec.numCodebooks;
    }
  });
  if (opened) await choose(selected);
}

async function openFile(file: File): Promise<void> {
  await open(new Uint8Array(await file.arrayBuffer()), file.name);
}

let recorder: MediaRecorder | undefined;

async function toggleRecording(): Promise<void> {
  const button = el<HTMLButtonElement>('record');
  if (recorder !== undefined) {
    recorder.stop();
    return;
  }
  let stream: MediaStream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (err) {
    setState('error', `no microphone: ${(err as Error).message}`);
    return;
  }
  const chunks: Blob[] = [];
  const r = new MediaRecorder(stream);
  recorder = r;
  r.ondataavailable = (e) => chunks.push(e.data);
  r.onstop = () => {
    stream.getTracks().forEach((t) => t.stop());
    recorder = undefined;
    button.textContent = 'record from the microphone';
    void new Blob(chunks).arrayBuffer().then((buffer) => open(new Uint8Array(buffer), 'recording.webm'));
  };
  r.start();
  button.textContent = 'stop recording';
  setState('busy', 'recording… (press stop when done)');
}

function wireInputs(): void {
  const drop = el('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const file = e.dataTransfer?.files[0];
    if (file !== undefined) void openFile(file);
  });
  const input = el<HTMLInputElement>('file');
  input.addEventListener('change', () => {
    const file = input.files?.[0];
    if (file !== undefined) void openFile(file);
    input.value = '';
  });
  const sample = el<HTMLButtonElement>('sample');
  sample.disabled = false;
  sample.addEventListener('click', () => {
    void fetchBytes('samples/speech.wav').then((bytes) => open(bytes!, 'speech.wav'));
  });
  const record = el<HTMLButtonElement>('record');
  if (typeof MediaRecorder !== 'undefined' && navigator.mediaDevices?.getUserMedia !== undefined) {
    record.disabled = false;
    record.addEventListener('click', () => void toggleRecording());
  } else {
    record.title = 'this page may not use a microphone here';
  }
}

/** For tests and the curious: the current coding in numbers. */
const hooks = {
  ready: undefined as unknown as Promise<void>,
  info: () => ({ backend, fingerprint: codec?.fingerprint, selected, name: clip?.name, numCodebooks: codec?.numCodebooks }),
  current: () => (clip === undefined ? undefined : clip.runs.get(selected)),
  decoded: () => Array.from(hooks.current()?.decoded ?? []),
  vqt: () => Array.from(hooks.current()?.vqt ?? []),
  open: (bytes: number[], name: string) => open(Uint8Array.from(bytes), name),
  choose,
};
(window as unknown as { vqcodecPage: typeof hooks }).vqcodecPage = hooks;

async function main(): Promise<void> {
  setState('loading', 'loading the model…');
  const started = performance.now();
  const files = await modelFiles();
  const why = await startCodec(files);
  selected = codec.numCodebooks;
  renderCodebookButtons();
  wireInputs();
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  setState('ready', `ready: model ${codec.fingerprint} (${(files.weights.length / 1e6).toFixed(1)} MB) on ${backend} in ${seconds} s; open a WAV or a .vqt`);
  el('footer').textContent = `TensorFlow.js ${tf.version.tfjs}, backend ${backend}: ${why}. ${codec.contextModel !== undefined ? 'Token files are range-coded under the model’s context model, as the CLI writes them.' : ''}`;
}

hooks.ready = main().catch((err: Error) => {
  setState('error', `could not start: ${err.message}`);
  throw err;
});
