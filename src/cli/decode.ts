import type { Codec } from '../codec.js';
import { decodeToWavFile } from '../streamFiles.js';
import { TokenFileReader } from '../tokens/tokenStream.js';
import type { EntropyModels } from '../entropy/payload.js';
import { codebooksOption, loadCodec, priorModels, type GlobalOptions } from './common.js';

/** vqcodec decode in.vqt out.wav — streams: memory is bounded by the chunk, not the file. */
export async function decodeCommand(input: string, output: string, options: GlobalOptions & { codebooks?: string; prior?: string }): Promise<void> {
  // The token file is checked whole (size, CRC, header, codes) before anything else.
  const reader = await TokenFileReader.open(input);
  let codec: Codec;
  let numCodebooks: number | undefined;
  let models: EntropyModels = {};
  try {
    codec = await loadCodec(options);
    numCodebooks = codebooksOption(options.codebooks, reader.header.numCodebooks, 'these tokens');
    if (options.prior !== undefined) models = await priorModels(options.prior, codec);
  } catch (err) {
    await reader.close();
    throw err;
  }
  const started = performance.now();
  const { samples } = await decodeToWavFile(codec, reader, output, { numCodebooks, models });
  const seconds = (performance.now() - started) / 1000;
  const duration = samples / codec.sampleRate;
  console.log(`${output}: ${samples} samples (${duration.toFixed(2)} s at ${codec.sampleRate} Hz), decoded at ${(duration / seconds).toFixed(1)}× real time`);
}
