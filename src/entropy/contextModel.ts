/**
 * The context model: next-code probabilities from counts over a corpus's tokens, with no
 * network to run. Codebook q's code in frame t is predicted from
 *   - the same codebook's code in frame t − 1 (speech holds still for several frames), and
 *   - codebook q − 1's code in frame t (residual codebooks depend on the one before),
 * each a table of counts smoothed towards the codebook's unigram (a Dirichlet prior of weight
 * `alpha`), mixed half and half. Only the first `contextCodebooks` get tables (later ones save
 * little and cost about a megabyte each); the rest use the unigram.
 *
 * Multi-rate codes (tokens/codeStrides.ts) count only the codes codebooks store: codebook q at a
 * frame t where its window starts, with the code of q in frame t − 1 (the window before's) and of
 * q − 1 in frame t, read from the dense grid, as the file coder reads them.
 *
 * The tables are fitted once on the training split's tokens and stored beside the codec
 * (context-model.bin). Token files are 2 s long on average, too short for counts adapted
 * within a file to learn anything, so the model is static; its id (the CRC-32 of the file's body) is
 * written into every token file coded with it.
 *
 * Probabilities use only +, −, × and ÷ in a fixed order, which IEEE 754 rounds identically
 * on every machine, before quantizeProbabilities turns them into integer frequencies.
 */
import { VqcodecError, check } from '../errors.js';
import { ByteReader, ByteWriter } from '../io/bytes.js';
import { storesAt, stridesOf } from '../tokens/codeStrides.js';
import { crc32 } from '../tokens/crc32.js';
import { FrequencyTable, MAX_TOTAL, quantizeProbabilities } from './rangeCoder.js';

const MAGIC = [0x56, 0x51, 0x43, 0x4d]; // "VQCM"
const VERSION = 1;

/** Sparse counts of one context: the symbols seen after it and how often. */
interface SparseCounts {
  symbols: Int32Array;
  counts: Float64Array;
  total: number;
}

export interface ContextModelSettings {
  /** Codebooks with context tables (the rest use their unigram). */
  contextCodebooks: number;
  /** Weight of the unigram in each table's smoothing, in counts. */
  alpha: number;
}

export const DEFAULT_CONTEXT_SETTINGS: ContextModelSettings = { contextCodebooks: 2, alpha: 100 };

/** Codes of one file, frame-major (dense for multi-rate codes). */
export interface CodeSequence {
  codes: Int32Array;
  numCodebooks: number;
  /** Multi-rate codes only: each codebook's stride. */
  codeStrides?: readonly number[];
}

export class ContextModel {
  /** CRC-32 of the serialized model's body: names it in token files. */
  readonly id: number;
  private readonly unigramProbs: Float64Array[];
  private readonly unigramTables: FrequencyTable[];
  private readonly scratch: Float64Array;

  private constructor(
    readonly codecFingerprint: string,
    readonly codebookSize: number,
    readonly settings: ContextModelSettings,
    /** Counts per codebook (numCodebooks of them). */
    private readonly unigram: Float64Array[],
    /** previous[q].get(code of q in frame t − 1, or K at t = 0). */
    private readonly previous: Map<number, SparseCounts>[],
    /** above[q].get(code of q − 1 in frame t), for 1 ≤ q < contextCodebooks. */
    private readonly above: Map<number, SparseCounts>[],
    bytes?: Uint8Array,
  ) {
    const K = codebookSize;
    this.unigramProbs = unigram.map((u) => {
      let n = 0;
      for (let s = 0; s < K; s++) n += u[s]!;
      const p = new Float64Array(K);
      for (let s = 0; s < K; s++) p[s] = (u[s]! + 0.5) / (n + 0.5 * K);
      return p;
    });
    this.unigramTables = this.unigramProbs.map((p) => quantizeProbabilities(p));
    this.scratch = new Float64Array(K);
    // The file's own trailer, the CRC-32 of its body (a CRC over a whole file ending in its CRC is a constant).
    const file = bytes ?? this.serialize();
    this.id = new DataView(file.buffer, file.byteOffset + file.length - 4, 4).getUint32(0, true);
  }

  get numCodebooks(): number {
    return this.unigram.length;
  }

  /** Counts every code of `files` (the codec's first numCodebooks at most). */
  static fit(files: Iterable<CodeSequence>, codecFingerprint: string, codebookSize: number, numCodebooks: number, settings = DEFAULT_CONTEXT_SETTINGS): ContextModel {
    const K = codebookSize;
    check(settings.contextCodebooks >= 0 && settings.contextCodebooks <= numCodebooks, `context codebooks must be from 0 to ${numCodebooks}`);
    check(Number.isInteger(settings.alpha) && settings.alpha > 0, 'alpha must be a positive integer');
    const unigram = Array.from({ length: numCodebooks }, () => new Float64Array(K));
    const dense = (n: number) => Array.from({ length: n }, () => new Map<number, Float64Array>());
    const previous = dense(settings.contextCodebooks);
    const above = dense(settings.contextCodebooks);
    const bump = (m: Map<number, Float64Array>, ctx: number, s: number) => {
      let row = m.get(ctx);
      if (row === undefined) m.set(ctx, (row = new Float64Array(K)));
      row[s]!++;
    };
    for (const file of files) {
      const { codes, numCodebooks: Q } = file;
      check(Q >= numCodebooks, `a file has ${Q} codebooks; the model counts ${numCodebooks}`);
      const frames = codes.length / Q;
      const strides = stridesOf(file);
      for (let t = 0; t < frames; t++) {
        for (let q = 0; q < numCodebooks; q++) {
          if (!storesAt(t, strides[q]!)) continue;
          const s = codes[t * Q + q]!;
          check(s >= 0 && s < K, `code ${s} is outside the codebook (size ${K})`);
          unigram[q]![s]!++;
          if (q >= settings.contextCodebooks) continue;
          bump(previous[q]!, t > 0 ? codes[(t - 1) * Q + q]! : K, s);
          if (q > 0) bump(above[q]!, codes[t * Q + q - 1]!, s);
        }
      }
    }
    const sparse = (m: Map<number, Float64Array>) => new Map([...m].sort((a, b) => a[0] - b[0]).map(([ctx, row]) => [ctx, toSparse(row)]));
    return new ContextModel(codecFingerprint, K, { ...settings }, unigram, previous.map(sparse), above.map(sparse));
  }

  /**
   * The frequency table of codebook q's code in a frame, given the code of q in the frame
   * before (`prev`, −1 in the first frame) and codebook q − 1's code in this frame (`upper`,
   * −1 when q = 0).
   */
  table(q: number, prev: number, upper: number): FrequencyTable {
    if (q >= this.settings.contextCodebooks) return this.unigramTables[q]!;
    const K = this.codebookSize;
    const { alpha } = this.settings;
    const pu = this.unigramProbs[q]!;
    const a = this.previous[q]!.get(prev < 0 ? K : prev);
    const b = q > 0 ? this.above[q]!.get(upper) : undefined;
    // p = w·(a + α·pu)/(A + α) + (1 − w)·(b + α·pu)/(B + α), with w = 1 when q = 0.
    const w = q > 0 ? 0.5 : 1;
    const aTotal = a?.total ?? 0;
    const bTotal = b?.total ?? 0;
    const base = (w * alpha) / (aTotal + alpha) + ((1 - w) * alpha) / (bTotal + alpha);
    const p = this.scratch;
    for (let s = 0; s < K; s++) p[s] = base * pu[s]!;
    if (a !== undefined) addSparse(p, a, w / (aTotal + alpha));
    if (b !== undefined) addSparse(p, b, (1 - w) / (bTotal + alpha));
    return quantizeProbabilities(p);
  }

  /**
   * The file: "VQCM", version, codec fingerprint (8 bytes), K, codebooks, context codebooks,
   * alpha, then varint counts: each codebook's unigram, then per context table its contexts
   * (context, entries, then symbol gaps and counts), then a CRC-32 of everything before.
   */
  serialize(): Uint8Array {
    const w = new ByteWriter();
    w.raw(Uint8Array.from(MAGIC)).u8(VERSION).raw(hexBytes(this.codecFingerprint));
    w.varint(this.codebookSize).varint(this.numCodebooks).varint(this.settings.contextCodebooks).varint(this.settings.alpha);
    for (const u of this.unigram) for (const c of u) w.varint(c);
    for (let q = 0; q < this.settings.contextCodebooks; q++) {
      writeTable(w, this.previous[q]!);
      if (q > 0) writeTable(w, this.above[q]!);
    }
    const body = w.finish();
    return new ByteWriter().raw(body).u32(crc32(body)).finish();
  }

  static parse(bytes: Uint8Array, name = 'context model'): ContextModel {
    check(bytes.length >= MAGIC.length + 1 + 8 + 4 && MAGIC.every((m, i) => bytes[i] === m), `${name} is not a vqcodec context model`);
    const stored = new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 4, 4).getUint32(0, true);
    check(crc32(bytes.subarray(0, bytes.length - 4)) === stored, `${name} is corrupted (checksum mismatch)`);
    const r = new ByteReader(bytes.subarray(0, bytes.length - 4), name);
    r.raw(MAGIC.length);
    const version = r.u8();
    check(version === VERSION, `${name} has version ${version}; this vqcodec reads version ${VERSION}`);
    const fingerprint = [...r.raw(8)].map((b) => b.toString(16).padStart(2, '0')).join('');
    const K = r.varint();
    const Q = r.varint();
    const contextCodebooks = r.varint();
    const alpha = r.varint();
    // A frequency table of MAX_TOTAL codes every symbol in at least 1 of MAX_TOTAL: K must be smaller.
    check(K >= 2 && K < MAX_TOTAL, `${name}: codebook size ${K} is outside 2..${MAX_TOTAL - 1}`);
    check(Q >= 1 && Q <= 255 && contextCodebooks <= Q && alpha > 0, `${name} has an invalid header`);
    // Every count takes at least a byte: refuse before allocating more than the file can fill.
    check(Q * K <= r.remaining, `${name} is truncated`);
    const unigram = Array.from({ length: Q }, () => {
      const u = new Float64Array(K);
      for (let s = 0; s < K; s++) u[s] = r.varint();
      return u;
    });
    const previous: Map<number, SparseCounts>[] = [];
    const above: Map<number, SparseCounts>[] = [];
    for (let q = 0; q < contextCodebooks; q++) {
      previous.push(readTable(r, K, K + 1, name));
      above.push(q > 0 ? readTable(r, K, K, name) : new Map());
    }
    check(r.remaining === 0, `${name} has ${r.remaining} bytes after its tables`);
    return new ContextModel(fingerprint, K, { contextCodebooks, alpha }, unigram, previous, above, bytes);
  }

  /** Mean bits per (stored) code of `files` under the model, per codebook (the ideal, before range-coder rounding). */
  crossEntropy(files: Iterable<CodeSequence>): number[] {
    const Q = this.numCodebooks;
    const bits = new Float64Array(Q);
    const codes = new Float64Array(Q);
    for (const f of files) {
      const F = f.codes.length / f.numCodebooks;
      const strides = stridesOf(f);
      for (let t = 0; t < F; t++) {
        for (let q = 0; q < Q; q++) {
          if (!storesAt(t, strides[q]!)) continue;
          const at = t * f.numCodebooks + q;
          const table = this.table(q, t > 0 ? f.codes[at - f.numCodebooks]! : -1, q > 0 ? f.codes[at - 1]! : -1);
          bits[q]! += Math.log2(table.total / table.freq[f.codes[at]!]!);
          codes[q]!++;
        }
      }
    }
    return [...bits].map((b, q) => b / Math.max(1, codes[q]!));
  }
}

function toSparse(row: Float64Array): SparseCounts {
  const symbols: number[] = [];
  const counts: number[] = [];
  let total = 0;
  row.forEach((c, s) => {
    if (c > 0) {
      symbols.push(s);
      counts.push(c);
      total += c;
    }
  });
  return { symbols: Int32Array.from(symbols), counts: Float64Array.from(counts), total };
}

function addSparse(p: Float64Array, row: SparseCounts, scale: number): void {
  for (let i = 0; i < row.symbols.length; i++) p[row.symbols[i]!]! += scale * row.counts[i]!;
}

function writeTable(w: ByteWriter, table: Map<number, SparseCounts>): void {
  w.varint(table.size);
  let lastContext = -1;
  for (const [ctx, row] of table) {
    w.varint(ctx - lastContext - 1).varint(row.symbols.length);
    lastContext = ctx;
    let last = -1;
    for (let i = 0; i < row.symbols.length; i++) {
      w.varint(row.symbols[i]! - last - 1).varint(row.counts[i]! - 1);
      last = row.symbols[i]!;
    }
  }
}

function readTable(r: ByteReader, K: number, contexts: number, name: string): Map<number, SparseCounts> {
  const size = r.varint();
  check(size <= contexts, `${name}: a table lists ${size} contexts of ${contexts}`);
  const table = new Map<number, SparseCounts>();
  let ctx = -1;
  for (let c = 0; c < size; c++) {
    ctx += r.varint() + 1;
    const n = r.varint();
    check(ctx < contexts && n >= 1 && n <= K && 2 * n <= r.remaining, `${name} is corrupted (a context table is out of range)`);
    const symbols = new Int32Array(n);
    const counts = new Float64Array(n);
    let s = -1;
    let total = 0;
    for (let i = 0; i < n; i++) {
      s += r.varint() + 1;
      check(s < K, `${name} is corrupted (symbol ${s} is outside the codebook)`);
      symbols[i] = s;
      counts[i] = r.varint() + 1;
      total += counts[i]!;
    }
    table.set(ctx, { symbols, counts, total });
  }
  return table;
}

function hexBytes(hex: string): Uint8Array {
  if (!/^[0-9a-f]{16}$/.test(hex)) throw new VqcodecError(`codec fingerprint must be 16 lowercase hex digits, got "${hex}"`);
  return Uint8Array.from({ length: 8 }, (_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16));
}
