import path from 'node:path';
import { plotTrainingLog } from '../eval/plot.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readLog } from '../train/trainer.js';

/** vqcodec plot RUN [--out file.svg] */
export async function plotCommand(runDir: string, options: { out?: string }): Promise<void> {
  const out = options.out ?? path.join(runDir, 'curves.svg');
  await writeFileAtomic(out, plotTrainingLog(await readLog(runDir), `training run ${runDir}`));
  console.log(`wrote ${out}`);
}
