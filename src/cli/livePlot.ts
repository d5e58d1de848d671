import { plotTrainingLog } from '../eval/plot.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readLog } from '../train/runLog.js';

/**
 * `train --plot`: RUN/curves.svg redrawn from the run's log as training goes (at most every
 * `minSeconds`, and at each validation), so a browser or an image viewer can follow it; one
 * write at a time, never blocking a step.
 */
export class LivePlot {
  private writing: Promise<void> | undefined;
  private last = 0;
  private pending = false;

  constructor(
    readonly file: string,
    private readonly runDir: string,
    private readonly minSeconds = 20,
  ) {}

  refresh(force = false): void {
    if (!force && performance.now() - this.last < this.minSeconds * 1000) return;
    if (this.writing !== undefined) {
      this.pending = true;
      return;
    }
    this.last = performance.now();
    this.writing = this.write().finally(() => {
      this.writing = undefined;
      if (this.pending) {
        this.pending = false;
        this.refresh(true);
      }
    });
  }

  /** The last drawing, after any in flight. */
  async finish(): Promise<void> {
    while (this.writing !== undefined) await this.writing;
    await this.write();
  }

  private async write(): Promise<void> {
    // A plot that fails (a log line being written) is simply retried at the next refresh.
    const log = await readLog(this.runDir).catch(() => undefined);
    if (log !== undefined) await writeFileAtomic(this.file, plotTrainingLog(log, `training run ${this.runDir}`)).catch(() => undefined);
  }
}
