/** CRC-32 as used by zip, PNG and Ethernet (IEEE 802.3, reflected polynomial 0xEDB88320). */

const TABLE = makeTable();

function makeTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/** CRC-32 fed in pieces: `update` any number of times, then `value` (streams of unknown length). */
export class Crc32 {
  private c = 0xffffffff;

  update(bytes: Uint8Array): this {
    const table = TABLE;
    let c = this.c;
    for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
    this.c = c;
    return this;
  }

  get value(): number {
    return (this.c ^ 0xffffffff) >>> 0;
  }
}

/** CRC-32 of `bytes`, as an unsigned 32-bit number. crc32("123456789") = 0xCBF43926. */
export function crc32(bytes: Uint8Array): number {
  return new Crc32().update(bytes).value;
}
