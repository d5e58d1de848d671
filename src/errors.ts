/**
 * An error meant for the person running vqcodec: its message is one clear line,
 * and the CLI prints it without a stack trace and exits non-zero.
 */
export class VqcodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VqcodecError';
  }
}

/** Throws a VqcodecError with `message` when `condition` is false. */
export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new VqcodecError(message);
}
