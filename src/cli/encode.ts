import { promises as fs } from 'node:fs';
import { loadAudio } from '../audio/load.js';
import { writeTokenFile } from '../tokens/tokenFile.js';
import { intOption, loadCodec, type GlobalOptions } from './common.js';
import { kbps, note } from './ui.js';

export interface EncodeOptions extends GlobalOptions {
  codebooks?: string;
}

/** vqcodec encode in.wav out.vqt */
export async function encodeCommand(input: string, output: string, options: EncodeOptions): Promise<void> {
  const codec = await loadCodec(options);
  const audio = await loadAudio(input, codec.sampleRate);
  const started = performance.now();
  const tokens = codec.encode(audio.samples, { numCodebooks: intOption('--codebooks', options.codebooks) });
  const seconds = (performance.now() - started) / 1000;
  await writeTokenFile(output, tokens);
  const bytes = (await fs.stat(output)).size;
  const duration = audio.samples.length / codec.sampleRate;
  console.log(
    `${output}: ${tokens.frames} frames × ${tokens.numCodebooks} codebooks, ${bytes} bytes, ` +
      `${kbps((bytes * 8) / duration)} for ${duration.toFixed(2)} s (nominal ${kbps(codec.bitrate(tokens.numCodebooks))}), ` +
      `encoded at ${(duration / seconds).toFixed(1)}× real time`,
  );
  if (!options.quiet) note(`wrote ${output}`);
}
