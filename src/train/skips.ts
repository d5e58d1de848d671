/**
 * Steps skipped for a NaN or infinite loss or gradient norm, shared by the codec's and the prior's
 * trainers: each skip halves the learning rate from then on, and MAX_SKIPS_IN_A_ROW in a row stop
 * the run. Both figures go into the checkpoint, so that a resumed run goes on exactly.
 */
import { VqcodecError } from '../errors.js';
import { MAX_SKIPS_IN_A_ROW } from './options.js';
import type { SkipLog } from './runLog.js';

export class SkippedSteps {
  constructor(
    /** What the scheduled learning rate is multiplied by. */
    public lrFactor = 1,
    /** Steps skipped in a row so far. */
    public inARow = 0,
  ) {}

  /** A step was applied: the series of skips ends. */
  applied(): void {
    this.inARow = 0;
  }

  /** A step was skipped for `reason`: halves the factor; returns the log entry. */
  skip(step: number, reason: string): SkipLog {
    this.lrFactor /= 2;
    this.inARow++;
    return { type: 'skip', step, reason, lrFactor: this.lrFactor };
  }

  /** After MAX_SKIPS_IN_A_ROW skips in a row: the one-line error that stops `what` ('training'), saying where to go on from. */
  stopError(what: string, last: SkipLog, lastCheckpoint: number, alternative = ''): VqcodecError | undefined {
    if (this.inARow < MAX_SKIPS_IN_A_ROW) return undefined;
    const next = lastCheckpoint > 0 ? `resume from the checkpoint of step ${lastCheckpoint} with a lower --lr` : 'start again with a lower --lr';
    return new VqcodecError(`${what} stopped at step ${last.step}: ${this.inARow} steps in a row had a NaN or infinite loss or gradient (${last.reason}); ${next}${alternative}`);
  }
}
