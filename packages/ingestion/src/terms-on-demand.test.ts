import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { withTermsOnDemand } from './terms-on-demand.js';

describe('withTermsOnDemand', () => {
  const terms = { harbour: 2, tide: 1 };

  test('reads as the decoded terms, a new object each time, so nothing keeps them decoded', () => {
    const chunk = withTermsOnDemand({ id: 'c1' }, JSON.stringify(terms));
    assert.deepEqual(chunk.terms, terms);
    assert.notEqual(chunk.terms, chunk.terms);
  });

  test('a spread, JSON.stringify and a structured clone see terms as a plain property and nothing else', () => {
    const chunk = withTermsOnDemand({ id: 'c1' }, JSON.stringify(terms));
    assert.deepEqual({ ...chunk }, { id: 'c1', terms });
    assert.deepEqual(JSON.parse(JSON.stringify(chunk)), { id: 'c1', terms });
    assert.deepEqual(structuredClone(chunk), { id: 'c1', terms });
    assert.deepEqual(Object.keys(chunk), ['id', 'terms']);
  });

  test('keeps the JSON text readable as termsJson, as given, for a store that writes JSON', () => {
    const text = JSON.stringify(terms);
    const chunk = withTermsOnDemand({ id: 'c1' }, text);
    assert.equal(chunk.termsJson, text);
    assert.equal(Object.getOwnPropertyDescriptor(chunk, 'termsJson')?.enumerable, false);
  });

  test('cannot be assigned: the terms are the thread’s analysis, not a field to edit', () => {
    const chunk = withTermsOnDemand({ id: 'c1' }, JSON.stringify(terms)) as { terms: Record<string, number> };
    assert.throws(() => {
      chunk.terms = {};
    }, TypeError);
  });
});
