/**
 * Adam (Kingma & Ba, 2015) with global-norm gradient clipping. Written here rather than
 * using tf.train.adam so that its state is keyed by parameter name and a resumed run
 * restores it exactly.
 */
import * as tf from '@tensorflow/tfjs';
import type { NamedArrays } from '../model/params.js';

export interface AdamOptions {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** Gradients are scaled down so their global L2 norm is at most this; 0 disables. */
  clipNorm: number;
}

export class Adam {
  step = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  constructor(readonly options: AdamOptions) {}

  /** The global L2 norm of `grads` (what apply clips by). */
  static gradientNorm(grads: Record<string, tf.Tensor>): tf.Scalar {
    return tf.tidy(() => tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))))) as tf.Scalar;
  }

  /**
   * Applies `grads` (by parameter name) to `vars`; returns the gradient norm before clipping
   * (`norm` when the caller computed it already with gradientNorm, to check it first).
   */
  apply(vars: Record<string, tf.Variable>, grads: Record<string, tf.Tensor>, norm: tf.Scalar = Adam.gradientNorm(grads)): tf.Scalar {
    const { learningRate, beta1, beta2, epsilon, clipNorm } = this.options;
    this.step++;
    const t = this.step;
    const scale = clipNorm > 0 ? tf.tidy(() => tf.minimum(1, tf.div(clipNorm, tf.add(norm, 1e-12)))) : tf.scalar(1);
    const stepSize = (learningRate * Math.sqrt(1 - beta2 ** t)) / (1 - beta1 ** t);
    for (const [name, g] of Object.entries(grads)) {
      const w = vars[name];
      const m = this.slot(this.m, name, w);
      const v = this.slot(this.v, name, w);
      tf.tidy(() => {
        const clipped = tf.mul(g, scale);
        const m1 = tf.add(tf.mul(m, beta1), tf.mul(clipped, 1 - beta1));
        const v1 = tf.add(tf.mul(v, beta2), tf.mul(tf.square(clipped), 1 - beta2));
        m.assign(m1);
        v.assign(v1);
        w.assign(tf.sub(w, tf.mul(tf.div(m1, tf.add(tf.sqrt(v1), epsilon)), stepSize)));
      });
    }
    scale.dispose();
    return norm;
  }

  private slot(map: Map<string, tf.Variable>, name: string, like: tf.Variable): tf.Variable {
    let s = map.get(name);
    if (s === undefined) {
      s = tf.variable(tf.zerosLike(like), false);
      map.set(name, s);
    }
    return s;
  }

  /** State for a checkpoint: moments by parameter name. */
  snapshot(): { step: number; arrays: NamedArrays } {
    const arrays: NamedArrays = {};
    for (const [name, s] of this.m) arrays[`adam.m/${name}`] = { shape: s.shape.slice(), data: s.dataSync() as Float32Array };
    for (const [name, s] of this.v) arrays[`adam.v/${name}`] = { shape: s.shape.slice(), data: s.dataSync() as Float32Array };
    return { step: this.step, arrays };
  }

  restore(step: number, arrays: NamedArrays): void {
    this.step = step;
    for (const [key, a] of Object.entries(arrays)) {
      const slash = key.indexOf('/');
      const kind = key.slice(0, slash);
      const name = key.slice(slash + 1);
      const map = kind === 'adam.m' ? this.m : kind === 'adam.v' ? this.v : undefined;
      if (map === undefined) continue;
      map.get(name)?.dispose();
      map.set(name, tf.variable(tf.tensor(a.data, a.shape, 'float32'), false));
    }
  }

  dispose(): void {
    for (const s of [...this.m.values(), ...this.v.values()]) s.dispose();
    this.m.clear();
    this.v.clear();
  }
}
