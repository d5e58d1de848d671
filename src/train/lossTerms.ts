/**
 * The loss terms of a training step, by name. A term is computed in one place (codecLossTerms in
 * step.ts) and named here with the weight that scales it; the total, the log, the progress note
 * and the data-parallel averaging all follow this table (as DAC sums lambdas[k] · output[k]).
 */

export interface LossWeights {
  waveform: number;
  stft: number;
  /** Log-mel L1 term inside the spectral loss (reported as part of 'stft'); absent or 0: none. */
  mel?: number;
  /** Scales codebook + commitment losses. */
  vq: number;
  /** Hinge adversarial term against a SpectrogramDiscriminator; absent or 0: none. */
  adversarial?: number;
  /** Feature matching on the discriminator's activations; absent or 0: none. */
  featureMatching?: number;
}

/** Each term of the codec's loss, the weight that scales it, and its label in progress notes. */
export const LOSS_TERMS = {
  waveform: { weight: 'waveform', label: 'L1' },
  stft: { weight: 'stft', label: 'STFT' },
  codebook: { weight: 'vq', label: 'codebook' },
  commitment: { weight: 'vq', label: 'commit' },
  adversarial: { weight: 'adversarial', label: 'adv' },
  featureMatching: { weight: 'featureMatching', label: 'FM' },
} as const satisfies Record<string, { weight: keyof LossWeights; label: string }>;

export type LossTerm = keyof typeof LOSS_TERMS;
export const TERM_NAMES = Object.keys(LOSS_TERMS) as LossTerm[];

/**
 * What a step reports, in this order: the codec's (generator's) weighted total, each term
 * unweighted, and the discriminator's own hinge loss (0 without GAN training).
 */
export type LossPart = 'total' | LossTerm | 'discriminator';
export const LOSS_PARTS: readonly LossPart[] = ['total', ...TERM_NAMES, 'discriminator'];
export type Losses = Record<LossPart, number>;

/** Labels of the parts in progress notes. */
export const PART_LABELS: Record<LossPart, string> = {
  total: 'loss',
  ...(Object.fromEntries(TERM_NAMES.map((t) => [t, LOSS_TERMS[t].label])) as Record<LossTerm, string>),
  discriminator: 'disc',
};

/** The weights in use, in first-appearance order of LOSS_TERMS, with the terms each scales. */
export function weightGroups(weights: LossWeights): { weight: number; terms: LossTerm[] }[] {
  const groups = new Map<keyof LossWeights, LossTerm[]>();
  for (const term of TERM_NAMES) {
    const key = LOSS_TERMS[term].weight;
    if (!((weights[key] ?? 0) > 0)) continue;
    groups.set(key, [...(groups.get(key) ?? []), term]);
  }
  return [...groups].map(([key, terms]) => ({ weight: weights[key]!, terms }));
}

/** Whether these weights train against a discriminator (GAN training). */
export function usesDiscriminator(weights: LossWeights): boolean {
  return (weights.adversarial ?? 0) > 0 || (weights.featureMatching ?? 0) > 0;
}

/** Losses from an array in LOSS_PARTS order (missing values 0). */
export function lossRecord(values: ArrayLike<number>): Losses {
  return Object.fromEntries(LOSS_PARTS.map((part, i) => [part, values[i] ?? 0])) as Losses;
}

/** The losses as an array in LOSS_PARTS order (to send between threads or average). */
export function lossArray(losses: Losses): Float32Array {
  return Float32Array.from(LOSS_PARTS, (part) => losses[part]);
}
