import { exportCheckpoint } from '../train/trainer.js';
import { startBackend, type GlobalOptions } from './common.js';

/** vqcodec export RUN DIR — the model of a run's latest checkpoint, as a folder Codec.load reads. */
export async function exportCommand(run: string, outDir: string, options: GlobalOptions & { float16?: boolean }): Promise<void> {
  await startBackend(options);
  const codec = await exportCheckpoint(run, outDir, options.float16 === true ? 'float16' : 'float32');
  console.log(`wrote ${outDir} (model ${codec.fingerprint})`);
}
