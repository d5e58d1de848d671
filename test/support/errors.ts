/** Assertions shared by the tests (no tests here). */
import assert from 'node:assert/strict';
import { VqcodecError } from '../../src/errors.js';

/** For assert.throws / assert.rejects: a one-line VqcodecError, matching `pattern` when given. */
export function isVqcodecError(pattern?: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof VqcodecError, `expected a VqcodecError, got ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
    assert.ok(!err.message.includes('\n'), `message is one line: ${err.message}`);
    if (pattern) assert.match(err.message, pattern);
    return true;
  };
}
