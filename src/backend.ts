/**
 * The one place that picks the TensorFlow.js backend.
 * Best first: tfjs-node-gpu, tfjs-node (optional peers, used only when a user
 * installed them), wasm (XNNPACK + SIMD: the default), then the pure-JS cpu backend.
 * `VQCODEC_BACKEND` or the CLI's `--backend` force one.
 */
import * as tf from '@tensorflow/tfjs';
import { VqcodecError } from './errors.js';

export const BACKENDS = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** Loads the package that registers a backend; false when it is not installed. */
async function register(name: BackendName): Promise<boolean> {
  try {
    // Module names are held in variables so TypeScript does not require the optional peers.
    if (name === 'tensorflow-gpu') {
      const gpu = '@tensorflow/tfjs-node-gpu';
      await import(gpu);
    } else if (name === 'tensorflow') {
      const node = '@tensorflow/tfjs-node';
      await import(node);
    } else if (name === 'wasm') {
      await import('@tensorflow/tfjs-backend-wasm');
    }
    return true;
  } catch {
    return false;
  }
}

/** The tfjs registry name of each backend. tfjs-node-gpu registers itself as 'tensorflow'. */
const registryName: Record<BackendName, string> = {
  'tensorflow-gpu': 'tensorflow',
  tensorflow: 'tensorflow',
  wasm: 'wasm',
  cpu: 'cpu',
};

let chosen: BackendName | undefined;

/**
 * Initialises tfjs on the best available backend (or `preferred`) and returns its name.
 * Idempotent: later calls return the first choice unless a different backend is asked for.
 */
export async function initBackend(preferred?: string): Promise<BackendName> {
  const wanted = preferred ?? process.env.VQCODEC_BACKEND;
  if (wanted !== undefined && wanted !== '' && !(BACKENDS as readonly string[]).includes(wanted)) {
    throw new VqcodecError(`unknown backend '${wanted}' (choose one of ${BACKENDS.join(', ')})`);
  }
  if (chosen !== undefined && (wanted === undefined || wanted === '' || wanted === chosen)) return chosen;
  // Production mode: skips tfjs's debug checks and its advert for tfjs-node on the cpu backend.
  tf.env().set('PROD', true);
  const candidates: BackendName[] = wanted ? [wanted as BackendName] : [...BACKENDS];
  for (const name of candidates) {
    if (!(await register(name))) continue;
    try {
      if (await tf.setBackend(registryName[name])) {
        await tf.ready();
        chosen = name;
        return name;
      }
    } catch {
      // fall through to the next candidate
    }
  }
  throw new VqcodecError(
    wanted ? `backend '${wanted}' is not available (is its package installed?)` : 'no TensorFlow.js backend could start',
  );
}

/** The backend chosen by initBackend, for logs. */
export function backendName(): BackendName | undefined {
  return chosen;
}
