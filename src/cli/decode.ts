import { writeWav } from '../audio/wav.js';
import { readTokenFile } from '../tokens/tokenFile.js';
import { intOption, loadCodec, type GlobalOptions } from './common.js';

/** vqcodec decode in.vqt out.wav */
export async function decodeCommand(input: string, output: string, options: GlobalOptions & { codebooks?: string }): Promise<void> {
  const tokens = await readTokenFile(input);
  const codec = await loadCodec(options);
  const started = performance.now();
  const samples = codec.decode(tokens, { numCodebooks: intOption('--codebooks', options.codebooks) });
  const seconds = (performance.now() - started) / 1000;
  await writeWav(output, { samples, sampleRate: codec.sampleRate });
  const duration = samples.length / codec.sampleRate;
  console.log(`${output}: ${samples.length} samples (${duration.toFixed(2)} s at ${codec.sampleRate} Hz), decoded at ${(duration / seconds).toFixed(1)}× real time`);
}
