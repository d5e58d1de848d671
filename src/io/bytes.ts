/**
 * Little byte buffers for compact binary formats: unsigned LEB128 varints (7 bits a byte,
 * low bits first, as protobuf writes them), fixed-width fields, and a reader that names what
 * ran out instead of reading past the end.
 */
import { VqcodecError } from '../errors.js';

export class ByteWriter {
  private bytes = new Uint8Array(64);
  length = 0;

  u8(v: number): this {
    this.reserve(1);
    this.bytes[this.length++] = v;
    return this;
  }

  u32(v: number): this {
    this.reserve(4);
    new DataView(this.bytes.buffer).setUint32(this.length, v, true);
    this.length += 4;
    return this;
  }

  /** An unsigned integer below 2^53. */
  varint(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new VqcodecError(`varint: ${v} is not a non-negative safe integer`);
    do {
      const low = v % 128;
      v = Math.floor(v / 128);
      this.u8(v > 0 ? low | 128 : low);
    } while (v > 0);
    return this;
  }

  raw(b: Uint8Array): this {
    this.reserve(b.length);
    this.bytes.set(b, this.length);
    this.length += b.length;
    return this;
  }

  finish(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }

  private reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.length + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }
}

export class ByteReader {
  pos = 0;

  /** `what` names the data in errors: "model.vqt is truncated". */
  constructor(
    readonly bytes: Uint8Array,
    private readonly what: string,
  ) {}

  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  u8(): number {
    this.need(1);
    return this.bytes[this.pos++]!;
  }

  u32(): number {
    this.need(4);
    const v = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 4).getUint32(0, true);
    this.pos += 4;
    return v;
  }

  /** A varint of at most `maxBytes` bytes (8 keeps it below 2^56; callers bound the value). */
  varint(maxBytes = 8): number {
    let v = 0;
    let scale = 1;
    for (let i = 0; i < maxBytes; i++) {
      const b = this.u8();
      v += (b & 127) * scale;
      if (b < 128) return v;
      scale *= 128;
    }
    throw new VqcodecError(`${this.what} is corrupted: a number runs over ${maxBytes} bytes`);
  }

  raw(n: number): Uint8Array {
    this.need(n);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  private need(n: number): void {
    if (this.pos + n > this.bytes.length) throw new VqcodecError(`${this.what} is truncated`);
  }
}
