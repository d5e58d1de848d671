/**
 * A run's log: JSON lines in RUN/log.jsonl, one per logged step, validation or skipped step. Lines are
 * appended as the run goes; a resume cuts the lines after its checkpoint's step; a line cut by
 * a killed process (the last one) is skipped when reading.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { VqcodecError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { parseJsonLines } from '../io/jsonLines.js';
import type { Losses } from './lossTerms.js';

export const LOG_FILE = 'log.jsonl';

export type StepLog = { type: 'train'; step: number; elapsedSeconds: number } & Losses & {
  gradNorm: number;
  learningRate: number;
  audioSecondsPerSecond: number;
  perplexity: number[];
  deadCodes: number[];
};

export interface ValidLog {
  type: 'valid';
  step: number;
  siSdr: number;
  stoi: number;
  /** Extended STOI; absent from logs written before it was measured. */
  estoi?: number;
  melDistance: number;
  perplexity: number[];
}

/** A step that was not applied: its loss or gradient norm was NaN or infinite; the learning rate is multiplied by lrFactor from then on. */
export interface SkipLog {
  type: 'skip';
  step: number;
  reason: string;
  lrFactor: number;
}

export type LogEntry = StepLog | ValidLog | SkipLog;

/** A run's log.jsonl, for any entries that carry their step (the codec's and the prior's). */
export class RunLog<T extends { step: number } = LogEntry> {
  readonly file: string;

  constructor(runDir: string) {
    this.file = path.join(runDir, LOG_FILE);
  }

  /** Starts an empty log. */
  async create(): Promise<void> {
    await writeFileAtomic(this.file, '');
  }

  async append(entry: T): Promise<void> {
    await fs.appendFile(this.file, JSON.stringify(entry) + '\n');
  }

  /** Keeps the entries up to `step` (those a resumed run would otherwise repeat are dropped). */
  async truncate(step: number): Promise<void> {
    const text = await fs.readFile(this.file, 'utf8').catch(() => '');
    const kept = parseJsonLines<T>(text, this.file).filter((e) => e.step <= step);
    await writeFileAtomic(this.file, kept.map((e) => JSON.stringify(e) + '\n').join(''));
  }
}

/** Reads a run's log. */
export async function readLog(runDir: string): Promise<LogEntry[]> {
  const file = path.join(runDir, LOG_FILE);
  const text = await fs.readFile(file, 'utf8').catch(() => {
    throw new VqcodecError(`no training log at ${file}`);
  });
  return parseJsonLines<LogEntry>(text, file);
}
