/**
 * Reference codecs for `vqcodec eval --baseline`: Opus (opus-tools' opusenc/opusdec) and
 * Codec2 (c2enc/c2dec), run as external programs so their output can be measured with exactly
 * the metric code vqcodec is measured with. They are never a dependency: the programs are only
 * looked for, and run, when a baseline is asked for.
 *
 * Bits are counted from the files the tools write: the whole .opus file (Ogg pages, OpusHead
 * and OpusTags included) and the whole .bit file (headerless Codec2 frames).
 */
import { execFile } from 'node:child_process';
import { accessSync, constants as fsConstants, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { resample } from '../audio/resample.js';
import { decodeWav, encodeWav, encodeWavSamplesInto } from '../audio/wav.js';
import { VqcodecError } from '../errors.js';

const run = promisify(execFile);

/** What a reference codec gives back for one clip. */
export interface ReferenceOutput {
  /** Size of the coded stream in bytes (container and headers included). */
  bytes: number;
  /** The decoded signal at the input's sample rate, aligned to the input and of its length. */
  decoded: Float32Array;
}

/** An external codec that codes a mono signal and decodes it back. */
export interface ReferenceCodec {
  /** File-system-safe identifier, e.g. `opus-6kbps`, `codec2-1200`: a folder name and JSON `codec` field. */
  readonly name: string;
  /** Human-readable title, e.g. `opus 6 kbps`. */
  readonly title: string;
  /** The programs it runs (all must be on PATH). */
  readonly tools: readonly string[];
  run(samples: Float32Array, sampleRate: number): Promise<ReferenceOutput>;
}

/** The c2enc modes accepted (8 kHz in and out). */
const CODEC2_MODES = ['3200', '2400', '1600', '1400', '1300', '1200', '700C'] as const;

/** The spec forms `parseBaseline` accepts, for error messages and help. */
export const BASELINE_FORMS = `opus:KBPS (6 to 256, e.g. opus:6) or codec2:MODE (MODE one of ${CODEC2_MODES.join(', ')})`;
/** Codec2 runs at 8 kHz, 16-bit signed little-endian raw PCM. */
const CODEC2_RATE = 8000;
/** 40 ms at 8 kHz: a whole number of frames in every mode above (20 ms or 40 ms frames). */
const CODEC2_BLOCK = 320;

/** Which Debian package provides each tool, for the "not found" message. */
const PACKAGES: Record<string, { pkg: string; codec: string }> = {
  opusenc: { pkg: 'opus-tools', codec: 'Opus' },
  opusdec: { pkg: 'opus-tools', codec: 'Opus' },
  c2enc: { pkg: 'codec2', codec: 'Codec2' },
  c2dec: { pkg: 'codec2', codec: 'Codec2' },
};

/** Largest delay searched by `alignToInput`, in seconds. */
export const MAX_ALIGN_SECONDS = 0.05;
/** Energy-envelope window of the coarse alignment stage, in seconds. */
const ENVELOPE_SECONDS = 0.005;
/** Half-width of the fine (waveform) alignment stage around the coarse lag, in seconds. */
const FINE_SECONDS = 0.01;

/**
 * Parses one baseline spec: `opus:6` (kbps) or `codec2:1200` / `codec2:3200` / `codec2:700C`
 * (a c2enc mode; case-insensitive). Anything else is a one-line VqcodecError.
 */
export function parseBaseline(spec: string): ReferenceCodec {
  const bad = (): never => {
    throw new VqcodecError(`bad baseline '${spec}': expected ${BASELINE_FORMS}`);
  };
  const m = /^\s*([a-z0-9]+):([^:\s]+)\s*$/i.exec(spec);
  if (!m) return bad();
  const kind = m[1]!.toLowerCase();
  const arg = m[2]!;
  if (kind === 'opus') {
    const kbps = /^\d+(\.\d+)?$/.test(arg) ? Number(arg) : Number.NaN;
    if (!(kbps >= 6 && kbps <= 256)) return bad();
    return opusCodec(kbps);
  }
  if (kind === 'codec2') {
    const mode = CODEC2_MODES.find((x) => x === arg.toUpperCase());
    if (mode === undefined) return bad();
    return codec2Codec(mode);
  }
  return bad();
}

/** Parses a comma-separated list of specs (`opus:6,codec2:1200`); duplicates are dropped. */
export function parseBaselines(list: string): ReferenceCodec[] {
  const codecs = list.split(',').map(parseBaseline);
  return codecs.filter((c, i) => codecs.findIndex((d) => d.name === c.name) === i);
}

/** True when `tool` is an executable file in one of PATH's folders. */
export function hasTool(tool: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(path.join(dir, tool), fsConstants.X_OK);
      return true;
    } catch {
      // not in this folder
    }
  }
  return false;
}

function missingTool(tool: string): VqcodecError {
  const p = PACKAGES[tool];
  return new VqcodecError(p ? `${tool} not found: install Debian's ${p.pkg} to compare against ${p.codec}` : `${tool} not found on PATH`);
}

/** Throws the one-line "not found" error for the first tool of `codecs` missing from PATH. */
export function requireTools(codecs: readonly ReferenceCodec[]): void {
  for (const c of codecs) for (const t of c.tools) if (!hasTool(t)) throw missingTool(t);
}

/** Runs `tool args` without a shell; a missing program or a failure becomes a one-line error. */
async function tool(name: string, args: string[]): Promise<void> {
  try {
    await run(name, args, { maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw missingTool(name);
    const detail = (e.stderr ?? '').trim().split('\n').pop()?.trim() || e.message.split('\n')[0];
    throw new VqcodecError(`${name} failed: ${detail}`);
  }
}

/** Runs `body` in a fresh temporary folder, which is removed afterwards whatever happens. */
async function inTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-baseline-'));
  try {
    return await body(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/**
 * Opus through opusenc at its defaults (VBR, 20 ms frames, complexity 10) and the target
 * bitrate, with `--padding 0` so the 512 bytes opusenc otherwise reserves for later tag edits
 * (not audio data) are not charged to Opus. The bit count is the real file size, so the
 * reported rate is what VBR actually spent, not the target. Decoded by opusdec to float WAV
 * at the input rate (no dither), which also removes the encoder's pre-skip and trims the end.
 */
function opusCodec(kbps: number): ReferenceCodec {
  return {
    name: `opus-${kbps}kbps`,
    title: `opus ${kbps} kbps`,
    tools: ['opusenc', 'opusdec'],
    run: (samples, sampleRate) =>
      inTempDir(async (dir) => {
        const input = path.join(dir, 'in.wav');
        const coded = path.join(dir, 'coded.opus');
        const output = path.join(dir, 'out.wav');
        await fs.writeFile(input, encodeWav(samples, sampleRate, 'pcm16'));
        await tool('opusenc', ['--quiet', '--bitrate', String(kbps), '--padding', '0', input, coded]);
        await tool('opusdec', ['--quiet', '--rate', String(sampleRate), '--float', coded, output]);
        const bytes = (await fs.stat(coded)).size;
        const wav = decodeWav(await fs.readFile(output), 'opusdec output');
        return { bytes, decoded: alignToInput(samples, wav.channels[0]!, sampleRate).aligned };
      }),
  };
}

/**
 * Codec2 in one c2enc mode: the input is resampled to 8 kHz with vqcodec's resampler, padded
 * with zeros to whole 40-ms blocks (c2enc drops a partial last frame), coded to a headerless
 * .bit file, decoded, and resampled back to the input rate.
 */
function codec2Codec(mode: (typeof CODEC2_MODES)[number]): ReferenceCodec {
  return {
    name: `codec2-${mode}`,
    title: `codec2 ${mode}`,
    tools: ['c2enc', 'c2dec'],
    run: (samples, sampleRate) =>
      inTempDir(async (dir) => {
        const input = path.join(dir, 'in.raw');
        const coded = path.join(dir, 'coded.bit');
        const output = path.join(dir, 'out.raw');
        const low = resample(samples, sampleRate, CODEC2_RATE);
        const padded = new Float32Array(Math.ceil(low.length / CODEC2_BLOCK) * CODEC2_BLOCK);
        padded.set(low);
        const raw = new Uint8Array(padded.length * 2);
        encodeWavSamplesInto(padded, 'pcm16', raw, 0);
        await fs.writeFile(input, raw);
        await tool('c2enc', [mode, input, coded]);
        await tool('c2dec', [mode, coded, output]);
        const bytes = (await fs.stat(coded)).size;
        const out = await fs.readFile(output);
        const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
        const decoded8k = new Float32Array(Math.floor(out.byteLength / 2));
        for (let i = 0; i < decoded8k.length; i++) decoded8k[i] = view.getInt16(2 * i, true) / 32768;
        const decoded = resample(decoded8k, CODEC2_RATE, sampleRate);
        return { bytes, decoded: alignToInput(samples, decoded, sampleRate).aligned };
      }),
  };
}

/**
 * Aligns a codec's output to its input. Codecs add delay (look-ahead, filter and resampler
 * delays) that the tools do not always remove, and a constant shift would be charged as
 * distortion by every metric. So the output is shifted by the integer lag (within ±50 ms) that
 * maximises its cross-correlation with the input, then trimmed or zero-padded to the input's
 * length: this gives each baseline its best alignment (vqcodec's own output needs none; its
 * decoder returns the input's timing).
 *
 * The search has two stages, because a parametric codec such as Codec2 does not keep the
 * waveform's phase: the raw cross-correlation of its output can peak at a spurious lag (on
 * some clips 30–45 ms off, costing up to 0.4 STOI), while the correlation of energy envelopes,
 * which do not depend on phase, finds the delay to within a few ms. So:
 *  1. coarse: the lag in [−maxLag, maxLag] maximising the cross-correlation of the two signals'
 *     energy envelopes (squares summed over 5-ms windows, mean removed);
 *  2. fine: the lag within ±10 ms of it (and within ±maxLag) maximising the cross-correlation
 *     Σ input[i]·decoded[i + lag] of the waveforms. For a waveform codec (Opus) this is the
 *     sample-exact lag plain cross-correlation finds; ±10 ms covers the coarse stage's error.
 * Ties go to the lag nearest the centre of each search. Returns the aligned signal (exactly
 * `input.length` samples) and the lag (positive: the decoded signal was late).
 */
export function alignToInput(
  input: Float32Array,
  decoded: Float32Array,
  sampleRate: number,
  maxSeconds = MAX_ALIGN_SECONDS,
): { aligned: Float32Array; lag: number } {
  const maxLag = Math.round(maxSeconds * sampleRate);
  const window = Math.max(1, Math.round(ENVELOPE_SECONDS * sampleRate));
  const coarse = bestLag(energyEnvelope(input, window), energyEnvelope(decoded, window), 0, maxLag, maxLag);
  const lag = bestLag(input, decoded, coarse, Math.round(FINE_SECONDS * sampleRate), maxLag);
  const n = input.length;
  const aligned = new Float32Array(n);
  const from = Math.max(0, -lag);
  const to = Math.min(n, decoded.length - lag);
  if (to > from) aligned.set(decoded.subarray(from + lag, to + lag), from);
  return { aligned, lag };
}

/** e[i] = Σ x[j]² over the `window` samples ending at i, minus its mean. */
function energyEnvelope(x: Float32Array, window: number): Float64Array {
  const e = new Float64Array(x.length);
  let acc = 0;
  let total = 0;
  for (let i = 0; i < x.length; i++) {
    acc += x[i]! * x[i]!;
    if (i >= window) acc -= x[i - window]! * x[i - window]!;
    e[i] = acc;
    total += acc;
  }
  const mean = x.length > 0 ? total / x.length : 0;
  for (let i = 0; i < e.length; i++) e[i]! -= mean;
  return e;
}

/**
 * The lag in [centre − radius, centre + radius] ∩ [−limit, limit] maximising Σ a[i]·b[i + lag]
 * over the overlap; ties go to the lag nearest `centre` (then the later one).
 */
function bestLag(a: ArrayLike<number>, b: ArrayLike<number>, centre: number, radius: number, limit: number): number {
  let best = -Infinity;
  let bestAt = Math.max(-limit, Math.min(limit, centre));
  for (let k = 0; k <= 2 * radius; k++) {
    // centre, centre + 1, centre − 1, centre + 2, …: a strict improvement is needed to move further out.
    const lag = centre + (k === 0 ? 0 : k % 2 === 1 ? (k + 1) / 2 : -(k / 2));
    if (lag < -limit || lag > limit) continue;
    const from = Math.max(0, -lag);
    const to = Math.min(a.length, b.length - lag);
    let sum = 0;
    for (let i = from; i < to; i++) sum += a[i]! * b[i + lag]!;
    if (sum > best) {
      best = sum;
      bestAt = lag;
    }
  }
  return bestAt;
}
