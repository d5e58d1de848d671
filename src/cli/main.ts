/**
 * The `vqcodec` command line. Each command lives in its own file and only parses,
 * calls the library and prints. Errors meant for the user print as one line and exit 1.
 */
import { Command, CommanderError } from 'commander';
import { VqcodecError } from '../errors.js';
import { decodeCommand } from './decode.js';
import { demoCommand } from './demo.js';
import { entropyFitCommand, entropyMeasureCommand } from './entropy.js';
import { encodeCommand } from './encode.js';
import { evalCommand } from './eval.js';
import { MAX_PICTURE_FILES } from './pictures.js';
import { exportCommand } from './export.js';
import { infoCommand } from './info.js';
import { playCommand } from './play.js';
import { plotCommand } from './plot.js';
import { generateCommand, priorEvalCommand, priorTrainCommand } from './prior.js';
import { tokensCommand } from './tokens.js';
import { trainCommand } from './train.js';

function program(): Command {
  const p = new Command('vqcodec')
    .description('A neural speech codec: audio ⇄ compact discrete tokens (VQ-VAE on TensorFlow.js)')
    .option('--backend <name>', 'tensorflow-gpu | tensorflow | wasm | cpu (default: best available; or VQCODEC_BACKEND)')
    .option('-q, --quiet', 'print only results')
    .exitOverride()
    .showHelpAfterError();
  const globals = () => p.opts() as { backend?: string; quiet?: boolean };
  const modelOption = ['-m, --model <dir>', 'model folder (default: the shipped models/default)'] as const;

  p.command('demo')
    .description('code a short speech clip with the shipped model at several bitrates and print the figures')
    .option(...modelOption)
    .option('-i, --input <file>', 'audio to code instead of the bundled clip')
    .option('-o, --out <dir>', 'where to write token files and reconstructions', 'demo-output')
    .action((o) => demoCommand({ ...globals(), ...o }));
  p.command('encode')
    .description('audio file (WAV, MP3, OGG, FLAC) → .vqt token file')
    .argument('<input>')
    .argument('<output>')
    .option(...modelOption)
    .option('-n, --codebooks <n>', 'use the first n codebooks only (lower bitrate)')
    .option('--entropy <coding>', 'none (bit-packed) | context (range-coded under the model folder\'s context model; the default when it has one) | prior (range-coded under --prior)')
    .option('--prior <dir>', 'the prior to code with (--entropy prior); decoding needs the same one')
    .action((input, output, o) => encodeCommand(input, output, { ...globals(), ...o }));
  p.command('decode')
    .description('.vqt token file → WAV of the original length')
    .argument('<input>')
    .argument('<output>')
    .option(...modelOption)
    .option('-n, --codebooks <n>', 'decode from the first n codebooks only')
    .option('--prior <dir>', 'the prior a file was entropy-coded with (encode --entropy prior)')
    .action((input, output, o) => decodeCommand(input, output, { ...globals(), ...o }));
  p.command('play')
    .description('play audio or a .vqt through the sound card; --compare plays the original, then each bitrate')
    .argument('<input>', 'an audio file or a .vqt token file')
    .option(...modelOption)
    .option('-n, --codebooks <n>', 'play the audio as coded with n codebooks (or the first n of a .vqt)')
    .option('--compare', 'play the original (for audio files) and then 1, 2, 4 … codebooks in turn, saying which is playing')
    .option('--prior <dir>', 'the prior a .vqt was entropy-coded with')
    .action((input, o) => playCommand(input, { ...globals(), ...o }));
  p.command('info').description('print a .vqt file header').argument('<input>').action((input) => infoCommand(input));
  p.command('eval')
    .description('encode → decode audio files or folders and report bitrate, SI-SDR, STOI, ESTOI, mel distance, codebook usage')
    .argument('<inputs...>')
    .option(...modelOption)
    .option('-n, --codebooks <list>', 'comma-separated codebook counts to evaluate, e.g. 1,2,4,8')
    .option('--split <name>', 'for a manifest.jsonl: which split to evaluate (train | valid | test)', 'test')
    .option('--limit <n>', 'evaluate n files spread evenly over the list')
    .option('--json', 'print JSON instead of tables')
    .option('-o, --out <dir>', 'also write the token files and decoded audio here')
    .option('--plot <file.svg>', 'also draw the rate–quality curves (STOI, ESTOI, SI-SDR, mel distance against kbps)')
    .option('--spectrograms <dir>', `also write a PNG per file and codebook count (and baseline) under DIR/q<n>/: spectrograms of the original and the decoded audio (${MAX_PICTURE_FILES} files spread evenly over longer lists)`)
    .option('--report <file.html>', `also write one self-contained HTML page: the rate–quality table (with MFCC distance) and curves, codebook usage histograms, and spectrograms with players for ${MAX_PICTURE_FILES} files spread over the list`)
    .option('--baseline <specs>', 'also measure reference codecs (Opus, Codec2: their programs must be installed), e.g. opus:6,codec2:1200,codec2:3200')
    .action((inputs, o) => evalCommand(inputs, { ...globals(), ...o }));
  p.command('tokens')
    .description('export the codes of audio files for sequence models: one [codebooks, frames] .npy per file (or JSON lines) and DIR/index.jsonl')
    .argument('<inputs...>')
    .option(...modelOption)
    .requiredOption('-o, --out <dir>', 'output folder (resumable: files its index.jsonl lists are skipped)')
    .option('--split <name>', 'for a manifest.jsonl: which split to export (train | valid | test)', 'train')
    .option('-n, --codebooks <n>', 'export the first n codebooks only')
    .option('--format <format>', 'npy (int16, or int32 when K > 32768) or jsonl', 'npy')
    .option('--shard <k/n>', 'export every n-th file from the k-th (0-based), for n independent jobs')
    .action((inputs, o) => tokensCommand(inputs, { ...globals(), ...o }));
  const entropy = p.command('entropy').description('entropy coding of token files: fit the context model, measure what each coding saves');
  entropy
    .command('fit')
    .description('fit a context model on a token export (vqcodec tokens); the codec uses it as context-model.bin in its model folder')
    .requiredOption('--tokens <dir>', 'a vqcodec tokens output folder (the train split)')
    .requiredOption('-o, --out <file>', 'where to write it, e.g. models/default/context-model.bin')
    .option('--context-codebooks <n>', 'codebooks that get context tables (the rest: unigram)', String(2))
    .option('--alpha <n>', 'smoothing of each table towards the unigram, in counts', String(100))
    .action((o) => entropyFitCommand({ ...globals(), ...o }));
  entropy
    .command('measure')
    .description('bits per code of each codebook under each coding, and the real files at n codebooks, on a token export')
    .requiredOption('--tokens <dir>', 'a vqcodec tokens output folder (e.g. the test split)')
    .option(...modelOption)
    .option('--prior <dir>', 'also measure coding under this prior')
    .option('-n, --codebooks <n>', 'codebooks of the files measured (default 2)')
    .option('--limit <n>', 'measure n files spread evenly over the export')
    .option('--json', 'print JSON instead of tables')
    .action((o) => entropyMeasureCommand({ ...globals(), ...o }));
  const prior = p.command('prior').description('the token prior: an autoregressive Transformer over a codec\'s tokens');
  prior
    .command('train')
    .description('train a prior on a token export (vqcodec tokens)')
    .requiredOption('--tokens <dir>', 'a vqcodec tokens output folder (npy or jsonl)')
    .requiredOption('-o, --out <dir>', 'run folder: log.jsonl, checkpoint.bin, prior/')
    .option('--steps <n>', 'total optimisation steps')
    .option('--batch <n>', 'windows per batch')
    .option('--lr <rate>', 'Adam learning rate')
    .option('--lr-decay-from <step>', 'anneal the learning rate (half cosine, to 5%) from this step to the last')
    .option('-n, --codebooks <n>', 'model the first n codebooks (of multi-rate codes: in super-frames of the coarsest stride)')
    .option('--width <n>', 'model width')
    .option('--layers <n>', 'Transformer blocks')
    .option('--heads <n>', 'attention heads')
    .option('--context <steps>', 'steps attended over (frames, or super-frames of multi-rate codes, + codebooks − 1 per sequence)')
    .option('--dropout <rate>', 'dropout of the embeddings and residual branches while training (default 0.1)')
    .option('--seed <n>', 'random seed')
    .option('--resume', 'continue the run in --out from its checkpoint')
    .option('--init <prior-dir>', "start from a saved prior's weights and shape (fine-tuning it, e.g. on the tokens of a retrained codec; fresh optimizer)")
    .option('--workers <n>', "data-parallel worker threads (default: cores, at most 2; on --resume, the run's own)")
    .option('--file-starts <fraction>', "fraction of training windows that begin at their file's start, as entropy coding reads files (default 0: windows anywhere)")
    .option('--add-layers <n>', 'with --init: append n Transformer blocks, each starting as the identity (a deeper prior that starts where the saved one is)')
    .action((o) => priorTrainCommand({ ...globals(), ...o }));
  prior
    .command('eval')
    .description("a prior's cross-entropy on a token export, bits per code against the codes' unigram entropy (what prior-coded files cost, fast)")
    .requiredOption('--prior <dir>', 'a prior folder')
    .requiredOption('--tokens <dir>', 'a vqcodec tokens output folder of the same codec')
    .option('--limit <n>', 'evenly spaced files only')
    .option('--json', 'print JSON')
    .action((o) => priorEvalCommand({ ...globals(), ...o }));
  p.command('generate')
    .description('sample tokens from a prior (or continue a prompt) and decode them to a WAV')
    .argument('<output>')
    .option(...modelOption)
    .requiredOption('--prior <dir>', 'a prior folder (RUN/prior of vqcodec prior train)')
    .option('--seconds <s>', 'seconds to generate (after the prompt)', '5')
    .option('--temperature <t>', 'softmax temperature (0: most likely token)', '1')
    .option('--top-k <k>', 'sample among the k most likely tokens')
    .option('--seed <n>', 'random seed (same seed, same output)', '1')
    .option('--prompt <file>', 'continue this audio file or .vqt (the output starts with its decode)')
    .action((output, o) => generateCommand(output, { ...globals(), ...o }));
  p.command('train')
    .description('train a codec on a folder of audio files or a .jsonl manifest')
    .requiredOption('-d, --data <path>', 'folder of audio files, or manifest.jsonl (path, split)')
    .requiredOption('-o, --out <dir>', 'run folder: log.jsonl, checkpoint.bin, model/')
    .option('-c, --config <file>', 'model config JSON (fields not given take defaults)')
    .option('-p, --preset <name>', 'default | small | spectral | tiny | tiny-multirate (when no --config)')
    .option('--steps <n>', 'total optimisation steps')
    .option('--batch <n>', 'crops per batch')
    .option('--crop <seconds>', 'crop length in seconds')
    .option('--lr <rate>', 'Adam learning rate')
    .option('--lr-decay-from <step>', 'anneal the learning rate (half cosine, to 5%) from this step to the last')
    .option('--stft <windows>', 'STFT loss window sizes, e.g. 512,1024,2048')
    .option('--waveform-weight <w>', 'weight of the waveform L1 loss (STFT and VQ terms weigh 1)')
    .option('--mel-weight <w>', 'weight of a log-mel L1 term inside the STFT loss (default 0: none)')
    .option('--adversarial-weight <w>', 'train against a multi-resolution spectrogram discriminator: weight of the hinge adversarial term (default 0: no GAN)')
    .option('--feature-weight <w>', 'weight of discriminator feature matching (default 0)')
    .option('--restart <how>', "where dead codes restart: sample (a recent encoder output) or split (beside a busy code); may change on --resume")
    .option('--dead-code-threshold <usage>', 'restart codes used less than this often (EMA of assignments per step; 0: never); may change on --resume')
    .option('--log-every <n>', 'steps between log lines')
    .option('--validate-every <n>', 'steps between validations')
    .option('--checkpoint-every <n>', 'steps between checkpoints')
    .option('--seed <n>', 'random seed')
    .option('--workers <n>', "data-parallel worker threads (default: cores, at most 2; on --resume, the run's own)")
    .option('--resume', 'continue the run in --out from its checkpoint')
    .option('--init <model-dir>', 'start from a saved model\'s weights and config (fine-tuning; fresh optimizer)')
    .option('--code-strides <list>', 'multi-rate codes: frames per code of each codebook, coarse first, e.g. 4,4,2,1,1,1,1,1 (with --init: recode the saved model, codebooks restarting by k-means)')
    .option('--fsq <levels>', 'finite scalar quantization: each codebook a fixed grid of these levels per dimension, e.g. 8,5,5,5 (1000 codes); with --init: requantize the saved model, its encoder and decoder kept')
    .option('--add-decoder-trunk <CxN>', 'with --init: grow the decoder by a wide residual trunk at the frame rate, C channels × N units (e.g. 256x6), starting as the identity')
    .option('--deepen-decoder-trunk <n>', 'with --init: append n residual units to the saved decoder trunk, each starting as the identity (the codes stay the same)')
    .option('--add-encoder-trunk <CxN>', 'with --init: grow the encoder by a wide residual trunk at the frame rate before the quantizer, C channels × N units (e.g. 256x4), starting as the identity')
    .option('--decoder-only', 'train the decoder alone: the encoder and codebooks stay as they are (with --init, the codes of every file stay the same)')
    .option('--istft-head <WxC>', 'with --init: end the decoder at the frame rate in an inverse STFT of window W samples from C hidden channels (e.g. 1280x512), replacing its upsampling stages')
    .option('--plot', 'keep RUN/curves.svg up to date as training runs (redrawn every 20 s and at each validation)')
    .action((o) => trainCommand({ ...globals(), ...o }));
  p.command('export')
    .description('write the model of a training run\'s latest checkpoint as a model folder')
    .argument('<run>', 'run folder or checkpoint.bin')
    .argument('<dir>', 'model folder to write')
    .option('--float16', 'store the weights at half precision (half the size; rounds them, so a new fingerprint)')
    .action((run, dir, opts) => exportCommand(run, dir, { ...globals(), ...opts }));
  p.command('plot')
    .description('plot a training run\'s curves to SVG')
    .argument('<run>')
    .option('-o, --out <file>', 'SVG file (default RUN/curves.svg)')
    .action((run, o) => plotCommand(run, o));
  return p;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2; // commander already printed the message
    if (err instanceof VqcodecError) {
      process.stderr.write(`vqcodec: ${err.message}\n`);
      return 1;
    }
    const e = err as Error;
    process.stderr.write(`vqcodec: unexpected error: ${e?.message ?? String(err)}\n`);
    if (process.env.VQCODEC_DEBUG) process.stderr.write(`${e?.stack}\n`);
    return 1;
  }
}
