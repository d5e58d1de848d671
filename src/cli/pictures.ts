/** The spectrogram pictures `vqcodec eval --spectrograms` and `vqcodec demo` write. */
import path from 'node:path';
import type { ClipReport } from '../eval/evaluate.js';
import { spectrogramFigure } from '../eval/spectrogramFigure.js';
import { writeFileAtomic } from '../io/atomic.js';
import { evenlySpaced } from '../train/data.js';
import { fixed } from './ui.js';

/** `eval --spectrograms` draws at most this many files (spread evenly over the list) per codec. */
export const MAX_PICTURE_FILES = 12;

/** The files `eval --spectrograms` draws: all of them up to MAX_PICTURE_FILES, else that many spread evenly. */
export function pictureFiles(files: readonly string[]): Set<string> {
  return new Set(evenlySpaced(files, MAX_PICTURE_FILES));
}

/** A panel caption: what decoded it and what it scored, e.g. `2 codebooks: 1.10 kbps, STOI 0.750, ESTOI 0.610`. */
export function caption(report: ClipReport): string {
  const coder = report.codec ?? `${report.numCodebooks} codebook${report.numCodebooks === 1 ? '' : 's'}`;
  return `${coder}: ${fixed(report.bitsPerSecond / 1000)} kbps, STOI ${fixed(report.stoi, 3)}, ESTOI ${fixed(report.estoi, 3)}`;
}

/** Writes `DIR/GROUP/STEM.png`: the original above the decoded signal. Returns the path written. */
export async function writeComparison(dir: string, group: string, original: Float32Array, decoded: Float32Array, report: ClipReport, sampleRate: number): Promise<string> {
  const name = path.basename(report.name);
  const file = path.join(dir, group, `${path.basename(name, path.extname(name))}.png`);
  const png = spectrogramFigure([{ label: `original: ${name}`, samples: original }, { label: `decoded, ${caption(report)}`, samples: decoded }], sampleRate);
  await writeFileAtomic(file, png);
  return file;
}
