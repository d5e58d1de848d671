/**
 * Named model state. Trainable weights are tf.Variables the optimizer updates;
 * non-trainable state (EMA codebook statistics, the quantizer's initialised flag) lives here too
 * so that saving, loading and fingerprinting see one flat, ordered list.
 */
import * as tf from '@tensorflow/tfjs';
import { VqcodecError } from '../errors.js';

/**
 * The most values a store may hold, and the file they come from: a model built from a loaded
 * config is capped by what its weights file can fill, so a hostile config cannot make it
 * allocate gigabytes before the weights are compared with it.
 */
export interface ParamBudget {
  values: number;
  source: string;
}

export class ParamStore {
  private readonly vars = new Map<string, tf.Variable>();
  private readonly trainable = new Set<string>();
  private seed: number;
  private reserved = 0;

  constructor(
    seed = 1,
    private readonly budget?: ParamBudget,
  ) {
    this.seed = seed;
  }

  /** Registers a variable initialised uniformly in ±sqrt(3 / fanIn) · gain (variance gain²/fanIn). */
  uniform(name: string, shape: number[], fanIn: number, gain = 1, trainable = true): tf.Variable {
    this.reserve(name, shape);
    const limit = gain * Math.sqrt(3 / fanIn);
    const init = tf.randomUniform(shape, -limit, limit, 'float32', this.seed++);
    return this.insert(name, init, trainable);
  }

  /** Registers a constant-initialised variable. */
  fill(name: string, shape: number[], value: number, trainable = true): tf.Variable {
    this.reserve(name, shape);
    return this.insert(name, tf.fill(shape, value), trainable);
  }

  add(name: string, init: tf.Tensor, trainable: boolean): tf.Variable {
    this.reserve(name, init.shape);
    return this.insert(name, init, trainable);
  }

  /** Counts a parameter's values against the budget, before anything is allocated for it; over it, frees the store and throws. */
  private reserve(name: string, shape: readonly number[]): void {
    this.reserved += shape.reduce((a, b) => a * b, 1);
    const budget = this.budget;
    if (budget !== undefined && !(this.reserved <= budget.values)) {
      this.dispose(); // the half-built model is never returned: nothing else can free it
      throw new VqcodecError(
        `${budget.source} holds ${budget.values} values, too few for the model its config describes (parameter ${name} of shape ${shape.join('x')} brings it to ${this.reserved})`,
      );
    }
  }

  private insert(name: string, init: tf.Tensor, trainable: boolean): tf.Variable {
    if (this.vars.has(name)) throw new Error(`duplicate parameter ${name}`);
    const v = tf.variable(init, trainable, `${name}_${tf.util.now().toString(36)}_${Math.random().toString(36).slice(2)}`);
    init.dispose();
    this.vars.set(name, v);
    if (trainable) this.trainable.add(name);
    return v;
  }

  get(name: string): tf.Variable {
    const v = this.vars.get(name);
    if (v === undefined) throw new Error(`no parameter ${name}`);
    return v;
  }

  /** Stops the variables whose names pass `which` from training (the optimizer no longer sees them). */
  freeze(which: (name: string) => boolean): void {
    for (const name of [...this.trainable]) if (which(name)) this.trainable.delete(name);
  }

  names(): string[] {
    return [...this.vars.keys()];
  }

  /** Trainable variables by name, in registration order (the optimizer's view). */
  trainableVariables(): Record<string, tf.Variable> {
    const out: Record<string, tf.Variable> = {};
    for (const name of this.trainable) out[name] = this.vars.get(name)!;
    return out;
  }

  /** Count of trainable scalars. */
  trainableCount(): number {
    let n = 0;
    for (const name of this.trainable) n += this.vars.get(name)!.size;
    return n;
  }

  /** Copies every variable's values out (for saving). */
  snapshot(): NamedArrays {
    const out: NamedArrays = {};
    for (const [name, v] of this.vars) out[name] = { shape: v.shape.slice(), data: v.dataSync() as Float32Array };
    return out;
  }

  /**
   * Restores values saved by snapshot(). Every variable must be present with the same
   * shape, except those `optional` accepts, which keep their current values when absent.
   * Returns the names that were absent.
   */
  restore(arrays: NamedArrays, what = 'weights', optional: (name: string) => boolean = () => false): string[] {
    const absent: string[] = [];
    for (const [name, v] of this.vars) {
      const a = arrays[name];
      if (a === undefined) {
        if (optional(name)) {
          absent.push(name);
          continue;
        }
        throw new Error(`${what} lack parameter ${name}`);
      }
      if (a.shape.join('x') !== v.shape.join('x')) {
        throw new Error(`${what}: parameter ${name} has shape ${a.shape.join('x')}, the model expects ${v.shape.join('x')}`);
      }
      tf.tidy(() => v.assign(tf.tensor(a.data, v.shape, 'float32'))); // tidy releases the temporary tensor
    }
    return absent;
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
    this.trainable.clear();
  }
}

export interface NamedArray {
  shape: number[];
  data: Float32Array;
}
export type NamedArrays = Record<string, NamedArray>;
