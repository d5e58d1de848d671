/**
 * The chunk planner: long inputs are coded in chunks of frames, each read with enough context on
 * both sides that its kept frames come out exactly as when coding the whole input at once. Pure
 * arithmetic on frame indices, shared by the one-shot and the streaming coders.
 */
import { VqcodecError } from './errors.js';
import type { FrameContext } from './model/receptiveField.js';

/** Frames per chunk by default: 10 s at 50 frames/s. */
export const DEFAULT_CHUNK_FRAMES = 500;

export interface ChunkPlan {
  /** Frames each chunk keeps (the last one may keep fewer). */
  readonly chunkFrames: number;
  /** Frames read beyond the kept ones on each side: at least the model's receptive field. */
  readonly context: FrameContext;
}

/** One chunk: it reads frames [lo, hi) and keeps the results of frames [keepFrom, keepTo). */
export interface Chunk {
  readonly lo: number;
  readonly hi: number;
  readonly keepFrom: number;
  readonly keepTo: number;
}

/** A checked plan; a chunk size that is not a positive integer is a VqcodecError. */
export function chunkPlan(context: FrameContext, chunkFrames: number = DEFAULT_CHUNK_FRAMES): ChunkPlan {
  if (!(Number.isInteger(chunkFrames) && chunkFrames > 0)) throw new VqcodecError(`chunk size must be a positive integer (got ${chunkFrames})`);
  return { chunkFrames, context };
}

/**
 * The chunk that keeps frames from `start` on, in an input of `total` frames. While the total is
 * not known yet, pass Infinity: the chunk is then the one any longer input has too, which is
 * the one the final input has once that input reaches the chunk's `hi`.
 */
export function chunkAt(start: number, total: number, plan: ChunkPlan): Chunk {
  const keepTo = Math.min(total, start + plan.chunkFrames);
  return {
    lo: firstFrameRead(start, plan),
    hi: Math.min(total, keepTo + plan.context.after),
    keepFrom: start,
    keepTo,
  };
}

/**
 * The chunks from frame `start` on that can be coded now that frames [0, available) of an input
 * of `total` frames (Infinity while unknown) have arrived: each ends where the next starts. A
 * stream calls this as input arrives, then with available = total once the input has ended.
 */
export function* readyChunks(start: number, available: number, total: number, plan: ChunkPlan): Generator<Chunk> {
  while (start < total) {
    const chunk = chunkAt(start, total, plan);
    if (chunk.hi > available) return;
    yield chunk;
    start = chunk.keepTo;
  }
}

/** Every chunk of an input of `frames` frames, in order. */
export function planChunks(frames: number, plan: ChunkPlan): Generator<Chunk> {
  return readyChunks(0, frames, frames, plan);
}

/** The first frame the chunks from `start` on read: a stream can forget the frames before it. */
export function firstFrameRead(start: number, plan: ChunkPlan): number {
  return Math.max(0, start - plan.context.before);
}
