/**
 * Mutations of a byte string, described as data so that a failing case can be printed,
 * replayed and (under fast-check) shrunk: bit flips, byte and 32-bit overwrites with the values
 * that break parsers (0, 0xff, 2^31, 2^32 − 1, ...), truncation, insertion, deletion, and
 * replacement by random bytes. Positions are taken modulo the input's length.
 */
import { Random } from '../src/train/random.js';

export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'byte'; at: number; value: number }
  | { kind: 'u32'; at: number; value: number; bigEndian: boolean }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'random'; bytes: number[] }
  /** Replaces the `at`-th JSON number, string or literal in the bytes (read as Latin-1) by `value`. */
  | { kind: 'json'; at: number; value: string };

/** JSON values that configs and manifests must survive in any field. */
export const JSON_VALUES = ['0', '-1', '1', '0.5', '1e9', '2147483648', '4294967295', '1099511627776', '9007199254740993', '1e308', '-1e308', 'null', 'true', '""', '"x"', '"\\u0000"', '[]', '[1e9]', '{}', '[[]]', '"a\\nb"'];
const JSON_TOKEN = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|"(?:[^"\\]|\\.)*"|true|false|null/g;

/** 32-bit values that sit on the edges of what headers may say. */
export const INTERESTING_U32 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 1e9, 2 ** 24, 2 ** 24 + 1];
const INTERESTING_BYTES = [0, 1, 0x7f, 0x80, 0xfe, 0xff];

/** `bytes` with `mutations` applied in order (a new array; the input is left alone). */
export function applyMutations(bytes: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let out: Uint8Array = bytes.slice();
  for (const m of mutations) out = applyOne(out, m);
  return out;
}

function applyOne(b: Uint8Array, m: Mutation): Uint8Array {
  const at = (n: number) => (b.length === 0 ? 0 : m.kind === 'random' ? 0 : (m as { at: number }).at % n);
  switch (m.kind) {
    case 'flip':
      if (b.length > 0) b[at(b.length)]! ^= 1 << (m.bit & 7);
      return b;
    case 'byte':
      if (b.length > 0) b[at(b.length)] = m.value & 0xff;
      return b;
    case 'u32': {
      if (b.length < 4) return b;
      const p = at(b.length - 3);
      new DataView(b.buffer, b.byteOffset).setUint32(p, m.value >>> 0, !m.bigEndian);
      return b;
    }
    case 'truncate':
      return b.slice(0, at(b.length + 1));
    case 'insert': {
      const p = at(b.length + 1);
      const out = new Uint8Array(b.length + m.bytes.length);
      out.set(b.subarray(0, p));
      out.set(m.bytes, p);
      out.set(b.subarray(p), p + m.bytes.length);
      return out;
    }
    case 'delete': {
      const p = at(b.length + 1);
      const end = Math.min(b.length, p + m.length);
      const out = new Uint8Array(b.length - (end - p));
      out.set(b.subarray(0, p));
      out.set(b.subarray(end), p);
      return out;
    }
    case 'random':
      return Uint8Array.from(m.bytes);
    case 'json': {
      const text = latin1(b);
      const tokens = [...text.matchAll(JSON_TOKEN)];
      if (tokens.length === 0) return b;
      const t = tokens[m.at % tokens.length]!;
      const out = text.slice(0, t.index) + m.value + text.slice(t.index! + t[0].length);
      return Uint8Array.from(out, (c) => c.charCodeAt(0) & 0xff);
    }
  }
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}

/** One line describing the mutations (for reports). */
export function describeMutations(mutations: readonly Mutation[]): string {
  return mutations
    .map((m) => {
      switch (m.kind) {
        case 'flip':
          return `flip bit ${m.bit} at ${m.at}`;
        case 'byte':
          return `byte ${m.value} at ${m.at}`;
        case 'u32':
          return `u32${m.bigEndian ? 'be' : 'le'} ${m.value} at ${m.at}`;
        case 'truncate':
          return `truncate at ${m.at}`;
        case 'insert':
          return `insert ${m.bytes.length} bytes at ${m.at}`;
        case 'delete':
          return `delete ${m.length} at ${m.at}`;
        case 'random':
          return `${m.bytes.length} random bytes`;
        case 'json':
          return `JSON value ${m.at} := ${m.value}`;
      }
    })
    .join(', ');
}

/**
 * 1 to 4 random mutations for an input of `length` bytes (the fuzz loop's generator; the
 * test suite draws the same shapes from fast-check). Positions favour the first 64 bytes,
 * where headers live; for JSON inputs (`json`) half are JSON value swaps.
 */
export function randomMutations(random: Random, length: number, json = false): Mutation[] {
  const pos = () => (random.next() < 0.5 ? random.int(Math.min(64, Math.max(1, length))) : random.int(Math.max(1, length)));
  const count = 1 + random.int(4);
  const out: Mutation[] = [];
  for (let i = 0; i < count; i++) {
    const r = json && random.next() < 0.5 ? 21 : random.int(22);
    if (r < 6) out.push({ kind: 'flip', at: pos(), bit: random.int(8) });
    else if (r < 9) out.push({ kind: 'byte', at: pos(), value: random.next() < 0.5 ? INTERESTING_BYTES[random.int(INTERESTING_BYTES.length)]! : random.int(256) });
    else if (r < 13) out.push({ kind: 'u32', at: pos(), value: INTERESTING_U32[random.int(INTERESTING_U32.length)]!, bigEndian: random.next() < 0.2 });
    else if (r < 16) out.push({ kind: 'truncate', at: random.int(length + 1) });
    else if (r < 17) out.push({ kind: 'insert', at: pos(), bytes: Array.from({ length: 1 + random.int(16) }, () => random.int(256)) });
    else if (r < 18) out.push({ kind: 'delete', at: pos(), length: 1 + random.int(16) });
    else if (r < 19) out.push({ kind: 'random', bytes: Array.from({ length: random.int(256) }, () => random.int(256)) });
    else if (r < 20) out.push({ kind: 'flip', at: random.int(Math.max(1, length)), bit: random.int(8) });
    else out.push({ kind: 'json', at: random.int(1000), value: JSON_VALUES[random.int(JSON_VALUES.length)]! });
  }
  return out;
}
