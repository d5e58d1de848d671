/**
 * Dead-code restart policies: plain functions over a codebook's state that say which codes come
 * back and what to write into them (entries, EMA statistics, usage); the codebook writes it.
 *
 * A revived code's EMA statistics restart with it (as in vector-quantize-pytorch): otherwise the
 * next EMA update recomputes its old mean and undoes the revival.
 */
import * as tf from '@tensorflow/tfjs';
import type { QuantizerSettings } from './config.js';

/** What a policy reads of a codebook. */
export interface CodebookState {
  readonly entries: tf.Tensor;
  readonly clusterSize: tf.Tensor;
  /** EMA of assignments per step, per code. */
  readonly usage: Float32Array;
  /** Index of the nearest entry for each row of x. */
  codesOf(x: tf.Tensor2D): tf.Tensor1D;
}

/** Rows `codes` get these entries, EMA sums and cluster sizes. */
export interface RowWrite {
  codes: number[];
  entries: tf.Tensor2D;
  sums: tf.Tensor2D;
  sizes: tf.Tensor1D;
}

export interface Restart {
  /** How many dead codes came back. */
  revived: number;
  /** Applied in order. */
  writes: RowWrite[];
  /** New usage of the codes touched, as [code, usage]. */
  usage: [number, number][];
}

/** `dead`: codes used less than `threshold`; `recent`: residuals this codebook saw lately. */
export type RestartPolicy = (book: CodebookState, dead: number[], recent: tf.Tensor2D, random: () => number, threshold: number) => Restart;

/** Codes whose usage fell below the threshold. */
export function deadCodes(usage: Float32Array, threshold: number): number[] {
  const dead: number[] = [];
  for (let k = 0; k < usage.length; k++) if (usage[k] < threshold) dead.push(k);
  return dead;
}

/** 'sample': each dead code restarts on a random recent residual. */
export const restartOnSamples: RestartPolicy = (_book, dead, recent, random) => {
  const n = recent.shape[0];
  const picks = tf.tensor1d(dead.map(() => Math.floor(random() * n)), 'int32');
  const fresh = tf.gather(recent, picks) as tf.Tensor2D;
  // The revived code counts as one fresh assignment: sum = vector, size = 1, so the next EMA step keeps it.
  return { revived: dead.length, writes: [{ codes: dead, entries: fresh, sums: fresh, sizes: tf.ones([dead.length]) }], usage: dead.map((k) => [k, 1]) };
};

/**
 * 'split', LBG-style (Linde, Buzo & Gray, 1980): each dead code becomes a copy of one of the busiest
 * codes (the parent), moved a tenth of the way towards a recent residual that chose the parent, so
 * the two divide the parent's cluster along the data. Parent and child each keep half of the
 * parent's EMA statistics (cluster size, and the sum rescaled to their own mean) and half its usage.
 * Parents need twice the threshold's usage and a recent residual; dead codes beyond them stay dead.
 */
export const splitBusiest: RestartPolicy = (book, dead, recent, random, threshold) => {
  const usage = book.usage;
  const busiest = Array.from(usage.keys()).sort((a, b) => usage[b] - usage[a]);
  const members = membersByCode(book.codesOf(recent).dataSync());
  const parents: number[] = [];
  const towards: number[] = [];
  for (const parent of busiest) {
    if (parents.length === dead.length) break;
    const rows = members.get(parent);
    if (rows === undefined || usage[parent] < 2 * threshold) continue;
    parents.push(parent);
    towards.push(rows[Math.floor(random() * rows.length)]);
  }
  const children = dead.slice(0, parents.length);
  if (children.length === 0) return { revived: 0, writes: [], usage: [] };
  const parentRows = tf.gather(book.entries, tf.tensor1d(parents, 'int32')) as tf.Tensor2D;
  const member = tf.gather(recent, tf.tensor1d(towards, 'int32')) as tf.Tensor2D;
  const child = tf.add(parentRows, tf.mul(tf.sub(member, parentRows), 0.1)) as tf.Tensor2D;
  const halfSize = tf.div(tf.gather(book.clusterSize, tf.tensor1d(parents, 'int32')), 2) as tf.Tensor1D;
  const scale = tf.expandDims(halfSize, 1);
  return {
    revived: children.length,
    // Parents first (same mean, half the statistics), then children in the freed rows.
    writes: [
      { codes: parents, entries: parentRows, sums: tf.mul(parentRows, scale) as tf.Tensor2D, sizes: halfSize },
      { codes: children, entries: child, sums: tf.mul(child, scale) as tf.Tensor2D, sizes: halfSize },
    ],
    usage: parents.flatMap((parent, i) => [[parent, usage[parent] / 2], [children[i], usage[parent] / 2]] as [number, number][]),
  };
};

/** Row indices of `codes` by code. */
function membersByCode(codes: ArrayLike<number>): Map<number, number[]> {
  const members = new Map<number, number[]>();
  for (let i = 0; i < codes.length; i++) {
    const rows = members.get(codes[i]);
    if (rows) rows.push(i);
    else members.set(codes[i], [i]);
  }
  return members;
}

export const RESTART_POLICIES: Record<NonNullable<QuantizerSettings['restart']>, RestartPolicy> = {
  sample: restartOnSamples,
  split: splitBusiest,
};
