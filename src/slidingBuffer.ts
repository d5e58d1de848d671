/**
 * The recent part of a sequence that arrives in blocks: a stream appends what comes in and
 * drops what no later chunk reads, so memory stays about one chunk with its context.
 */
export class SlidingBuffer<T extends Float32Array | Int32Array> {
  private data: T;
  /** Index in the whole sequence of data[0]. */
  private dropped = 0;
  /** Elements appended so far. */
  private appended = 0;

  constructor(
    private readonly allocate: (length: number) => T,
    capacity: number,
  ) {
    this.data = allocate(capacity);
  }

  /** Elements appended so far: the sequence's length up to now. */
  get length(): number {
    return this.appended;
  }

  append(values: ArrayLike<number>): void {
    const held = this.appended - this.dropped;
    if (held + values.length > this.data.length) {
      const grown = this.allocate(Math.max(held + values.length, 2 * this.data.length));
      grown.set(this.data.subarray(0, held));
      this.data = grown;
    }
    this.data.set(values, held);
    this.appended += values.length;
  }

  /** Forgets the elements before `index`; no later view may start before it. */
  dropBefore(index: number): void {
    if (index <= this.dropped) return;
    this.data.copyWithin(0, index - this.dropped, this.appended - this.dropped);
    this.dropped = index;
  }

  /** Elements [from, to) of the whole sequence, in place (valid until the next append or drop). */
  view(from: number, to: number): T {
    return this.data.subarray(from - this.dropped, to - this.dropped) as T;
  }
}
