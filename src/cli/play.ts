import { loadAudio } from '../audio/load.js';
import { playClips, type Clip } from '../audio/playback.js';
import { evaluateClip } from '../eval/evaluate.js';
import { readTokenFile } from '../tokens/tokenFileFs.js';
import { codebooksOption, loadCodec, priorModels, type GlobalOptions } from './common.js';
import { kbps } from './ui.js';

export interface PlayOptions extends GlobalOptions {
  codebooks?: string;
  compare?: boolean;
  prior?: string;
}

/** Codebook counts to compare: powers of two up to `max`, and `max` itself. */
function ladder(max: number): number[] {
  const counts: number[] = [];
  for (let n = 1; n < max; n *= 2) counts.push(n);
  return [...counts, max];
}

/**
 * vqcodec play file.wav|file.vqt [--codebooks n] [--compare]
 * An audio file plays as it is, or as coded with n codebooks; a token file plays its decode.
 * --compare plays the original (for audio) and then each bitrate, saying which is playing.
 */
export async function playCommand(input: string, options: PlayOptions): Promise<void> {
  const isTokens = input.endsWith('.vqt');
  const clips: Clip[] = [];
  if (!isTokens && !options.compare && options.codebooks === undefined) {
    // The original needs no model: play it at the model's rate, as vqcodec hears it.
    const audio = await loadAudio(input, 16000);
    clips.push({ label: `original (${(audio.samples.length / audio.sampleRate).toFixed(2)} s)`, ...audio });
  } else {
    const codec = await loadCodec(options);
    const models = { context: codec.contextModel, ...(options.prior !== undefined ? await priorModels(options.prior, codec) : {}) };
    if (isTokens) {
      const tokens = await readTokenFile(input, models);
      const chosen = codebooksOption(options.codebooks, tokens.numCodebooks, 'these tokens');
      for (const n of options.compare ? ladder(tokens.numCodebooks) : [chosen ?? tokens.numCodebooks]) {
        clips.push({ label: `${n} codebook${n > 1 ? 's' : ''} of ${input}`, samples: codec.decode(tokens, { numCodebooks: n }), sampleRate: codec.sampleRate });
      }
    } else {
      const audio = await loadAudio(input, codec.sampleRate);
      const chosen = codebooksOption(options.codebooks, codec.numCodebooks, 'this model');
      if (options.compare) clips.push({ label: 'original', ...audio });
      for (const n of options.compare ? ladder(codec.numCodebooks) : [chosen!]) {
        const { report, decoded } = evaluateClip(codec, audio.samples, input, n);
        // STOI needs about 0.4 s of speech; shorter clips get the bitrate only.
        const stoi = Number.isFinite(report.stoi) ? ` (STOI ${report.stoi.toFixed(3)})` : '';
        clips.push({ label: `${n} codebook${n > 1 ? 's' : ''}, ${kbps(report.bitsPerSecond)}${stoi}`, samples: decoded, sampleRate: codec.sampleRate });
      }
    }
  }
  await playClips(clips, (clip, i) => console.log(`playing ${i + 1}/${clips.length}: ${clip.label}`));
}
