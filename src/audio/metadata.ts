/**
 * Length checks on the metadata of compressed audio files, made before the decoder sees them.
 *
 * node-web-audio-api's decoder allocates what a metadata length field says before it finds the
 * field runs past its block: fuzzing found an 84 KB FLAC whose shifted Vorbis comment made it
 * allocate 1.8 GB (and take seconds), and an MP3 whose ID3 frame size made it allocate 256 MB,
 * both only to fail. These checks walk the FLAC metadata blocks (with their Vorbis comment and
 * picture fields) and the ID3v2 frames of an MP3, and refuse any length that runs past what
 * holds it, with a one-line error. Ogg is left to the decoder: each page carries a CRC it checks.
 */
import { check } from '../errors.js';

const FLAC_VORBIS_COMMENT = 4;
const FLAC_PICTURE = 6;

/** Throws a one-line VqcodecError when a FLAC file's or an MP3's ID3v2 tag's lengths do not fit. */
export function checkAudioMetadata(bytes: Uint8Array, name: string): void {
  if (startsWith(bytes, 'fLaC')) checkFlac(bytes, name);
  else if (startsWith(bytes, 'ID3')) checkId3(bytes, name);
}

function startsWith(b: Uint8Array, tag: string): boolean {
  if (b.length < tag.length) return false;
  for (let i = 0; i < tag.length; i++) if (b[i] !== tag.charCodeAt(i)) return false;
  return true;
}

/** Reads big- or little-endian u32 fields inside [start, end) of `b`, refusing any read past `end`. */
class Fields {
  constructor(
    private readonly b: Uint8Array,
    private p: number,
    private readonly end: number,
    private readonly fail: string,
  ) {}

  u32(littleEndian: boolean): number {
    check(this.p + 4 <= this.end, this.fail);
    const b = this.b;
    const p = this.p;
    this.p += 4;
    return littleEndian ? (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0 : ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
  }

  skip(n: number): void {
    check(n <= this.end - this.p, this.fail);
    this.p += n;
  }

  get left(): number {
    return this.end - this.p;
  }
}

/** "fLaC", then metadata blocks (1 byte last flag and type, 3 bytes length), then audio frames. */
function checkFlac(b: Uint8Array, name: string): void {
  let p = 4;
  for (let last = false; !last; ) {
    check(p + 4 <= b.length, `${name} is a truncated FLAC file (its metadata ends early)`);
    last = (b[p]! & 0x80) !== 0;
    const type = b[p]! & 0x7f;
    const length = (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
    p += 4;
    check(length <= b.length - p, `${name} is a corrupted FLAC file (a metadata block of ${length} bytes runs past the end)`);
    const fail = `${name} is a corrupted FLAC file (a field of its ${type === FLAC_PICTURE ? 'picture' : 'Vorbis comment'} runs past its block)`;
    const f = new Fields(b, p, p + length, fail);
    if (type === FLAC_VORBIS_COMMENT) {
      // Vendor string, then a count of comments, each a length and its text (little-endian).
      f.skip(f.u32(true));
      const count = f.u32(true);
      check(count <= f.left / 4, fail);
      for (let i = 0; i < count; i++) f.skip(f.u32(true));
    } else if (type === FLAC_PICTURE) {
      // Picture type, MIME type, description, width, height, depth, colours, then the data (big-endian).
      f.u32(false);
      f.skip(f.u32(false));
      f.skip(f.u32(false));
      f.skip(16);
      f.skip(f.u32(false));
    }
    p += length;
  }
}

function isFrameId(b: Uint8Array, p: number): boolean {
  for (let i = p; i < p + 4; i++) {
    const c = b[i]!;
    if (!((c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39))) return false;
  }
  return true;
}

/** A 28-bit synchsafe integer (7 bits a byte). */
function synchsafe(b: Uint8Array, p: number): number {
  return ((b[p]! & 0x7f) << 21) | ((b[p + 1]! & 0x7f) << 14) | ((b[p + 2]! & 0x7f) << 7) | (b[p + 3]! & 0x7f);
}

/** "ID3", version, revision, flags, synchsafe size; then frames, each with an id, a size and flags. */
function checkId3(b: Uint8Array, name: string): void {
  if (b.length < 10) return; // not a tag at all: the decoder says so
  const version = b[3]!;
  const flags = b[5]!;
  const size = synchsafe(b, 6);
  const end = 10 + size;
  check(end <= b.length, `${name} is a truncated MP3 file (its ID3 tag of ${size} bytes runs past the end)`);
  // Unsynchronised tags (flag 0x80) store sizes of the de-unsynchronised data: not checked here.
  if ((version !== 3 && version !== 4) || (flags & 0x80) !== 0) return;
  const fail = `${name} is a corrupted MP3 file (an ID3 frame runs past its tag)`;
  let p = 10;
  if ((flags & 0x40) !== 0) {
    // Extended header: version 3 gives its size without the 4 size bytes, version 4 with them.
    check(p + 4 <= end, fail);
    const extended = version === 3 ? new DataView(b.buffer, b.byteOffset + p, 4).getUint32(0) + 4 : synchsafe(b, p);
    check(extended <= end - p, fail);
    p += extended;
  }
  // Frame ids are 4 capitals or digits; anything else is padding, or a writer's quirk (some store
  // plain sizes in version 4) that has lost the frame boundaries: the walk stops there.
  while (p + 10 <= end && isFrameId(b, p)) {
    const frame = version === 3 ? new DataView(b.buffer, b.byteOffset + p + 4, 4).getUint32(0) : synchsafe(b, p + 4);
    p += 10;
    check(frame <= end - p, fail);
    p += frame;
  }
}
