/**
 * Receptive fields, walked through the layers (as DAC's get_delay does): each layer says which of
 * its input positions a run of its outputs reads, and the encoder and decoder compose those spans.
 * Chunked coding overlaps chunks by the result, so chunk edges leave no trace.
 */

/**
 * Positions [from, to) of a sequence. `from` may be negative and `to` past the end: a span
 * reaching there reads the zero padding at the edges.
 */
export interface Span {
  readonly from: number;
  readonly to: number;
}

/** Frames on each side of a frame that its result can depend on. */
export interface FrameContext {
  readonly before: number;
  readonly after: number;
}

/** The smallest span holding both. */
export function hull(a: Span, b: Span): Span {
  return { from: Math.min(a.from, b.from), to: Math.max(a.to, b.to) };
}

/**
 * The frames around frame 0 that `span` touches, a frame being `perFrame` positions of the
 * span's sequence starting at 0: whole frames, so partial ones count.
 */
export function framesAround(span: Span, perFrame: number): FrameContext {
  return {
    before: Math.max(0, -Math.floor(span.from / perFrame)),
    after: Math.max(0, Math.floor((span.to - 1) / perFrame)),
  };
}
