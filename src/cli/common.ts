/** What several commands share: the backend flag, the default model, loading a codec. */
import { initBackend } from '../backend.js';
import { Codec } from '../codec.js';
import { TOKEN_CODINGS, type EntropyModels, type TokenCoding } from '../entropy/payload.js';
import { ExactPrior } from '../prior/exactPrior.js';
import { checkPriorCodec, loadPrior } from '../prior/store.js';
import { checkPriorStrides } from '../prior/superFrames.js';
import { VqcodecError } from '../errors.js';
import { note } from './ui.js';

export { DEFAULT_MODEL, PACKAGE_ROOT } from '../paths.js';
import { DEFAULT_MODEL } from '../paths.js';

export interface GlobalOptions {
  backend?: string;
  model?: string;
  quiet?: boolean;
}

export async function startBackend(options: GlobalOptions): Promise<void> {
  const name = await initBackend(options.backend);
  if (!options.quiet) note(`backend: ${name}`);
}

export async function loadCodec(options: GlobalOptions): Promise<Codec> {
  await startBackend(options);
  const codec = await Codec.load(options.model ?? DEFAULT_MODEL);
  if (!options.quiet) note(`model: ${options.model ?? DEFAULT_MODEL} (${codec.fingerprint})`);
  return codec;
}

/** Parses an integer option or throws a clear error. */
export function intOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n)) throw new VqcodecError(`${name} must be an integer (got '${value}')`);
  return n;
}

/**
 * Parses --codebooks, a count from 1 to `max` (the codebooks of `what`: 'this model', 'these
 * tokens'), so that the error names the flag rather than the library's option.
 */
export function codebooksOption(value: string | undefined, max: number, what: string): number | undefined {
  const n = intOption('--codebooks', value);
  if (n !== undefined) checkCodebookCount(n, max, what);
  return n;
}

export function checkCodebookCount(n: number, max: number, what: string): void {
  if (n < 1 || n > max) throw new VqcodecError(`--codebooks must be an integer from 1 to ${max} for ${what} (got ${n})`);
}

/** Parses a number option or throws a clear error. */
export function numberOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new VqcodecError(`${name} must be a number (got '${value}')`);
  return n;
}

/** Parses '1,2,4,8' into integers. */
export function intListOption(name: string, value: string | undefined): number[] | undefined {
  return value?.split(',').map((v) => intOption(name, v)!);
}

/**
 * --entropy and --prior of encode: 'context' is the default when the model folder has a
 * context model (it makes files smaller at no cost in quality), 'none' otherwise.
 */
export async function entropyOptions(codec: Codec, options: { entropy?: string; prior?: string }): Promise<{ coding: TokenCoding; models: EntropyModels }> {
  const coding = (options.entropy ?? (codec.contextModel !== undefined ? 'context' : 'none')) as TokenCoding;
  if (!TOKEN_CODINGS.includes(coding)) throw new VqcodecError(`--entropy must be one of ${TOKEN_CODINGS.join(', ')} (got '${options.entropy}')`);
  if (coding !== 'none' && codec.contextModel === undefined) throw new VqcodecError(`--entropy ${coding} needs a context model: this model folder has no context-model.bin`);
  if (coding === 'prior' && options.prior === undefined) throw new VqcodecError('--entropy prior needs --prior DIR');
  if (coding !== 'prior' && options.prior !== undefined) throw new VqcodecError('--prior is used with --entropy prior only');
  return { coding, models: coding === 'prior' ? await priorModels(options.prior!, codec) : {} };
}

/** The prior in `dir` as an entropy model for this codec's tokens. */
export async function priorModels(dir: string, codec: Codec): Promise<EntropyModels> {
  const { prior, codec: trainedOn, fingerprint } = await loadPrior(dir);
  try {
    checkPriorCodec(trainedOn, codec.fingerprint);
    checkPriorStrides(prior.config, codec.codeStrides);
    return { prior: { predictor: ExactPrior.fromPrior(prior), fingerprint } };
  } finally {
    prior.dispose();
  }
}
