import { exportCheckpoint } from '../train/trainer.js';
import { startBackend, type GlobalOptions } from './common.js';

/** vqcodec export RUN DIR — the model of a run's latest checkpoint, as a folder Codec.load reads. */
export async function exportCommand(run: string, outDir: string, options: GlobalOptions): Promise<void> {
  await startBackend(options);
  const codec = await exportCheckpoint(run, outDir);
  console.log(`wrote ${outDir} (model ${codec.fingerprint})`);
}
