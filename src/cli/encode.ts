import { promises as fs } from 'node:fs';
import { loadAudio } from '../audio/load.js';
import { codecModels, encodeWavFile, isWavFile } from '../streamFiles.js';
import { writeTokenFile } from '../tokens/tokenFileFs.js';
import { codebooksOption, entropyOptions, loadCodec, type GlobalOptions } from './common.js';
import { kbps, note } from './ui.js';

export interface EncodeOptions extends GlobalOptions {
  codebooks?: string;
  entropy?: string;
  prior?: string;
}

/**
 * vqcodec encode in.wav out.vqt
 * WAV inputs stream (memory bounded by the chunk, whatever the file's length); other formats
 * are decoded whole first. Both write the same token file.
 */
export async function encodeCommand(input: string, output: string, options: EncodeOptions): Promise<void> {
  const codec = await loadCodec(options);
  const numCodebooks = codebooksOption(options.codebooks, codec.numCodebooks, 'this model');
  const { coding, models } = await entropyOptions(codec, options);
  const started = performance.now();
  let frames: number;
  let n: number;
  let length: number;
  if (await isWavFile(input)) {
    const { header } = await encodeWavFile(codec, input, output, { numCodebooks, coding, models });
    ({ frames, numCodebooks: n, originalLength: length } = header);
  } else {
    const audio = await loadAudio(input, codec.sampleRate);
    const tokens = codec.encode(audio.samples, { numCodebooks });
    await writeTokenFile(output, tokens, { coding, models: codecModels(codec, models) });
    ({ frames, numCodebooks: n, originalLength: length } = tokens);
  }
  const seconds = (performance.now() - started) / 1000;
  const bytes = (await fs.stat(output)).size;
  const duration = length / codec.sampleRate;
  console.log(
    `${output}: ${frames} frames × ${n} codebooks, ${bytes} bytes, ` +
      `${kbps((bytes * 8) / duration)} for ${duration.toFixed(2)} s (nominal ${kbps(codec.bitrate(n))}), ` +
      `encoded at ${(duration / seconds).toFixed(1)}× real time`,
  );
  if (!options.quiet) note(`wrote ${output}`);
}
