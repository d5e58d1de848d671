import { expandInputs } from '../train/data.js';
import { exportTokens, parseShard, shardFiles, type TokenFormat } from '../tokens/export.js';
import { VqcodecError } from '../errors.js';
import { codebooksOption, loadCodec, type GlobalOptions } from './common.js';
import { progressBar } from './ui.js';

export interface TokensOptions extends GlobalOptions {
  out: string;
  split?: string;
  codebooks?: string;
  format?: string;
  shard?: string;
}

/** vqcodec tokens INPUTS… --out DIR [--split S] [--codebooks n] [--format npy|jsonl] [--shard k/n] */
export async function tokensCommand(inputs: string[], options: TokensOptions): Promise<void> {
  const format = (options.format ?? 'npy') as TokenFormat;
  if (format !== 'npy' && format !== 'jsonl') throw new VqcodecError(`--format must be npy or jsonl (got '${options.format}')`);
  const shard = options.shard !== undefined ? parseShard(options.shard) : undefined;
  const { files } = await expandInputs(inputs, options.split ?? 'train');
  const codec = await loadCodec(options);
  const numCodebooks = codebooksOption(options.codebooks, codec.numCodebooks, 'this model');
  const started = performance.now();
  const bar = progressBar(shardFiles(files, shard).length, 'tokens |{bar}| {value}/{total} files | ETA {eta_formatted}');
  const { written, skipped } = await exportTokens(codec, files, {
    outDir: options.out,
    format,
    numCodebooks,
    shard,
    onProgress: (done) => bar.update(done),
  });
  bar.stop();
  const seconds = (performance.now() - started) / 1000;
  console.log(`${options.out}: ${written} file(s) tokenized, ${skipped} already done${shard ? ` (shard ${shard.index}/${shard.count})` : ''}, in ${seconds.toFixed(1)} s`);
}
