import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from './config.js';
import { ConfigError } from './errors.js';

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    const config = loadConfig({});
    assert.equal(config.PORT, 8777);
    assert.equal(config.HOST, '127.0.0.1');
    assert.equal(config.DATA_DIR, './data');
    assert.equal(config.llmEnabled, false);
    assert.equal(config.INGEST_IN_API, true);
    assert.equal(config.TOP_K, 5);
  });

  it('turns on the LLM when a key or a base URL is set, ignoring blank values', () => {
    assert.equal(loadConfig({ OPENAI_API_KEY: 'sk-x' }).llmEnabled, true);
    assert.equal(loadConfig({ OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1' }).llmEnabled, true);
    assert.equal(loadConfig({ OPENAI_API_KEY: '  ' }).llmEnabled, false);
  });

  for (const [variable, value] of [
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['OPENAI_BASE_URL', 'not a url'],
    ['LOG_LEVEL', 'loud'],
    ['TOP_K', '0'],
    ['INGEST_IN_API', 'yes'],
  ] as const) {
    it(`names ${variable} when it is ${JSON.stringify(value)}`, () => {
      assert.throws(
        () => loadConfig({ [variable]: value }),
        (error: unknown) => error instanceof ConfigError && error.variable === variable && error.message.startsWith(`${variable}: `),
      );
    });
  }

  it('rejects an overlap that is not smaller than the chunk size', () => {
    assert.throws(
      () => loadConfig({ CHUNK_TOKENS: '64', CHUNK_OVERLAP_TOKENS: '64' }),
      (error: unknown) => error instanceof ConfigError && error.variable === 'CHUNK_OVERLAP_TOKENS',
    );
  });
});
