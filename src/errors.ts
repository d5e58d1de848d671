/**
 * An error meant for the person running vqcodec: its message is one clear line,
 * and the CLI prints it without a stack trace and exits non-zero.
 */
export class VqcodecError extends Error {
  constructor(message: string) {
    // Messages often quote what a file holds; a line break in it must not split the line.
    super(message.replace(/\s*[\r\n\u2028\u2029]+\s*/g, ' '));
    this.name = 'VqcodecError';
  }
}

/** Throws a VqcodecError with `message` when `condition` is false. */
export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new VqcodecError(message);
}
