/**
 * What kind of audio file some bytes are, and the sample rate a compressed file's header states
 * (an audio context decodes at its own rate, so it is made at the file's: see ./load.ts).
 */

/** Rates audio contexts accept (node-web-audio-api's and the browsers'). */
export const MIN_CONTEXT_RATE = 2000;
export const MAX_CONTEXT_RATE = 384000;

/** True when the bytes start with a RIFF (or big-endian RIFX) WAVE header. */
export function isWav(bytes: Uint8Array): boolean {
  if (bytes.length < 12) return false;
  const riff = ascii(bytes, 0, 4);
  return (riff === 'RIFF' || riff === 'RIFX') && ascii(bytes, 8, 4) === 'WAVE';
}

function ascii(bytes: Uint8Array, start: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(start, start + length));
}

/**
 * The sample rate stated in an Ogg (Vorbis/Opus), FLAC or MP3 header, or undefined when
 * the format is not recognised or the rate is outside what an audio context accepts.
 */
export function sniffSampleRate(bytes: Uint8Array): number | undefined {
  const rate = oggRate(bytes) ?? flacRate(bytes) ?? mp3Rate(bytes);
  return rate !== undefined && rate >= MIN_CONTEXT_RATE && rate <= MAX_CONTEXT_RATE ? rate : undefined;
}

function u32le(b: Uint8Array, p: number): number {
  return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
}

/** First Ogg page carries the codec's identification packet. */
function oggRate(b: Uint8Array): number | undefined {
  if (b.length < 28 || ascii(b, 0, 4) !== 'OggS') return undefined;
  const packet = 27 + b[26]; // page header + segment table
  if (b.length < packet + 16) return undefined;
  if (b[packet] === 1 && ascii(b, packet + 1, 6) === 'vorbis') return u32le(b, packet + 12);
  if (ascii(b, packet, 8) === 'OpusHead') return 48000; // Opus always decodes at 48 kHz
  return undefined;
}

/** STREAMINFO is always the first metadata block; the rate is its 20 bits at byte 10. */
function flacRate(b: Uint8Array): number | undefined {
  if (b.length < 22 || ascii(b, 0, 4) !== 'fLaC') return undefined;
  return (b[18] << 12) | (b[19] << 4) | (b[20] >> 4);
}

const MP3_RATES = [44100, 48000, 32000];

/** Rate of the first MPEG audio frame header after any ID3v2 tag. */
function mp3Rate(b: Uint8Array): number | undefined {
  let p = 0;
  if (b.length >= 10 && ascii(b, 0, 3) === 'ID3') {
    // Synchsafe size (7 bits per byte), plus the 10-byte header and optional footer.
    const size = (b[6] << 21) | (b[7] << 14) | (b[8] << 7) | b[9];
    p = 10 + size + (b[5] & 0x10 ? 10 : 0);
  }
  // Frames start right after the tag (some encoders pad it with zeros); scanning further
  // would find false frame syncs in arbitrary data.
  while (p < b.length && b[p] === 0) p++;
  if (p + 3 >= b.length || b[p] !== 0xff || (b[p + 1] & 0xe0) !== 0xe0) return undefined;
  const version = (b[p + 1] >> 3) & 3; // 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5, 1: reserved
  const layer = (b[p + 1] >> 1) & 3;
  const bitrate = b[p + 2] >> 4;
  const rateIndex = (b[p + 2] >> 2) & 3;
  if (version === 1 || layer === 0 || bitrate === 15 || rateIndex === 3) return undefined;
  return MP3_RATES[rateIndex] / (version === 3 ? 1 : version === 2 ? 2 : 4);
}
