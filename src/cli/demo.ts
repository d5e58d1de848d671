import path from 'node:path';
import { loadAudio } from '../audio/load.js';
import { writeWav } from '../audio/wavFs.js';
import { evaluateClip } from '../eval/evaluate.js';
import { spectrogramFigure, type FigurePanel } from '../eval/spectrogramFigure.js';
import { writeFileAtomic } from '../io/atomic.js';
import { FIXTURES } from '../paths.js';
import { loadCodec, type GlobalOptions } from './common.js';
import { caption } from './pictures.js';
import { fixed, note, table } from './ui.js';

export const DEMO_CLIP = path.join(FIXTURES, 'speech.wav');

/**
 * The first thing a newcomer runs: code a real speech clip with the shipped model at
 * every bitrate it offers, write the token files and the reconstructions, print figures.
 */
export async function demoCommand(options: GlobalOptions & { input?: string; out?: string }): Promise<void> {
  const codec = await loadCodec(options);
  const input = options.input ?? DEMO_CLIP;
  const out = options.out ?? 'demo-output';
  const audio = await loadAudio(input, codec.sampleRate);
  const seconds = audio.samples.length / codec.sampleRate;
  note(`coding ${input} (${seconds.toFixed(2)} s) at 1..${codec.numCodebooks} codebooks of ${codec.codebookSize}`);
  const rows: string[][] = [];
  const pictures: FigurePanel[] = [{ label: `original: ${path.basename(input)}`, samples: audio.samples }];
  for (let n = 1; n <= codec.numCodebooks; n *= 2) {
    const result = evaluateClip(codec, audio.samples, input, n);
    const stem = path.join(out, `speech-${n}cb`);
    await writeFileAtomic(`${stem}.vqt`, result.tokenBytes);
    await writeWav(`${stem}.wav`, { samples: result.decoded, sampleRate: codec.sampleRate });
    const r = result.report;
    pictures.push({ label: caption(r), samples: result.decoded });
    rows.push([`${stem}.wav`, String(n), String(r.bytes), fixed(r.bitsPerSecond / 1000, 3), fixed(r.compressionRatio, 0), fixed(r.siSdr), fixed(r.stoi, 3), fixed(r.estoi, 3), fixed(r.melDistance, 3)]);
  }
  await writeWav(path.join(out, 'original.wav'), audio);
  const picture = path.join(out, 'spectrograms.png');
  await writeFileAtomic(picture, spectrogramFigure(pictures, codec.sampleRate));
  console.log(table(['reconstruction', 'codebooks', 'bytes', 'kbps', 'ratio', 'SI-SDR dB', 'STOI', 'ESTOI', 'mel dist'], rows));
  console.log(`\noriginal: ${path.join(out, 'original.wav')}; 16-bit PCM would be ${(codec.sampleRate * 16) / 1000} kbps`);
  console.log(`spectrograms (time in s, 0–${codec.sampleRate / 2000} kHz, dB), top to bottom: original, then ${rows.map((r) => `${r[1]} codebook(s)`).join(', ')}: ${picture}`);
}
