import assert from 'node:assert/strict';
import { DocumentError } from '@passage/spec';

/** The DocumentError a promise rejects with; fails the test when it resolves or rejects with anything else. */
export async function documentErrorOf(promise: Promise<unknown>): Promise<DocumentError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof DocumentError, String(error));
    return error;
  }
  assert.fail('expected a DocumentError');
}
