import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from './config.js';
import { ConfigError } from './errors.js';

describe('loadConfig: which model answers (LLM_PROVIDER)', () => {
  it('answers extractively when nothing names a model', () => {
    const config = loadConfig({});
    assert.equal(config.llmProvider, null);
    assert.equal(config.llmEnabled, false);
    assert.equal(config.LLM_LOCAL_CONCURRENCY, 1);
    assert.equal(config.LLM_CONTEXT_SIZE, undefined);
  });

  it('chooses openai when OPENAI_BASE_URL or OPENAI_API_KEY is set, even with a GGUF path', () => {
    assert.equal(loadConfig({ OPENAI_API_KEY: 'sk-x' }).llmProvider, 'openai');
    assert.equal(loadConfig({ OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1', LLM_MODEL_PATH: '/models/m.gguf' }).llmProvider, 'openai');
  });

  it('chooses local when only LLM_MODEL_PATH names a GGUF file', () => {
    const config = loadConfig({ LLM_MODEL_PATH: '/models/Qwen2.5-3B-Instruct-Q4_K_M.GGUF' });
    assert.equal(config.llmProvider, 'local');
    assert.equal(config.llmEnabled, true);
  });

  it('follows LLM_PROVIDER over what the other variables imply', () => {
    assert.equal(loadConfig({ LLM_PROVIDER: 'local', LLM_MODEL_PATH: '/m.gguf', OPENAI_API_KEY: 'sk-x' }).llmProvider, 'local');
    assert.equal(loadConfig({ LLM_PROVIDER: 'openai', LLM_MODEL_PATH: '/m.gguf' }).llmProvider, 'openai');
  });

  it('reads the local settings as numbers', () => {
    const config = loadConfig({ LLM_MODEL_PATH: '/m.gguf', LLM_LOCAL_CONCURRENCY: '2', LLM_CONTEXT_SIZE: '4096', LLM_THREADS: '1' });
    assert.deepEqual([config.LLM_LOCAL_CONCURRENCY, config.LLM_CONTEXT_SIZE, config.LLM_THREADS], [2, 4096, 1]);
  });

  for (const [environment, variable, message] of [
    [{ LLM_PROVIDER: 'local' }, 'LLM_MODEL_PATH', /required with LLM_PROVIDER=local/],
    [{ LLM_MODEL_PATH: '/models/model.bin' }, 'LLM_MODEL_PATH', /GGUF/],
    [{ LLM_PROVIDER: 'llamacpp' }, 'LLM_PROVIDER', /openai|local/],
    [{ LLM_MODEL_PATH: '/m.gguf', LLM_LOCAL_CONCURRENCY: '0' }, 'LLM_LOCAL_CONCURRENCY', /./],
    [{ LLM_MODEL_PATH: '/m.gguf', LLM_CONTEXT_SIZE: 'large' }, 'LLM_CONTEXT_SIZE', /./],
  ] as const) {
    it(`names ${variable} for ${JSON.stringify(environment)}`, () => {
      assert.throws(
        () => loadConfig(environment),
        (error: unknown) => error instanceof ConfigError && error.variable === variable && message.test(error.message),
      );
    });
  }
});
