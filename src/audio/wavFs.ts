/** WAV files (./wav.ts) on disk. */
import { writeFileAtomic } from '../io/atomic.js';
import type { Audio } from '../types.js';
import { encodeWav, type WavFormat } from './wav.js';

/** Writes `audio` as a WAV file, atomically (readers never see a half-written file). */
export async function writeWav(path: string, audio: Audio, format: WavFormat = 'pcm16'): Promise<void> {
  await writeFileAtomic(path, encodeWav(audio.samples, audio.sampleRate, format));
}
