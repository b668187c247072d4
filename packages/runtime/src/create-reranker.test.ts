import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HttpReranker } from '@passage/reranker-http';
import { writeFixtureCrossEncoder } from '@passage/reranker-transformers';
import { ConfigError, loadConfig, silentLogger, type Logger } from '@passage/spec';
import { createReranker } from './create-reranker.js';

/** A logger that keeps the warnings. */
function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { ...silentLogger, warnings, warn: (_fields, message) => warnings.push(message ?? '') };
}

describe('createReranker', () => {
  let directory: string;
  let model: string;

  before(async () => {
    directory = await mkdtemp(path.join(tmpdir(), 'passage-create-reranker-'));
    model = (await writeFixtureCrossEncoder(path.join(directory, 'cross-encoder'))).directory;
  });
  after(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('gives no reranker by default', async () => {
    assert.equal(await createReranker(loadConfig({}), silentLogger), null);
  });

  it('loads the local model folder RERANK_MODEL names, at the precision RERANK_PRECISION names', async () => {
    for (const precision of ['fp32', 'q8']) {
      const config = loadConfig({ RERANK_PROVIDER: 'local', RERANK_MODEL: model, RERANK_PRECISION: precision, DATA_DIR: path.join(directory, 'data') });
      const reranker = await createReranker(config, silentLogger);
      assert.ok(reranker !== null);
      assert.equal((await reranker.score('moon tides', ['the moon', 'a cake'])).length, 2);
    }
  });

  it('starts without reranking, and says so once at warn level, when the local model cannot be loaded', async () => {
    const logger = recordingLogger();
    const config = loadConfig({ RERANK_PROVIDER: 'local', RERANK_MODEL: path.join(directory, 'no-such-model'), DATA_DIR: path.join(directory, 'data') });
    assert.equal(await createReranker(config, logger), null);
    assert.equal(logger.warnings.length, 1);
    assert.match(logger.warnings[0]!, /reranking is off.*no-such-model/);
  });

  it('builds the http reranker with the model name RERANK_MODEL gives', async () => {
    const config = loadConfig({ RERANK_PROVIDER: 'http', RERANK_BASE_URL: 'http://127.0.0.1:9/v1', RERANK_MODEL: 'bge-reranker-base' });
    const reranker = await createReranker(config, silentLogger);
    assert.ok(reranker instanceof HttpReranker);
    assert.equal(reranker.name, 'bge-reranker-base');
  });

  it('refuses RERANK_PROVIDER=http without RERANK_BASE_URL, naming the variable', () => {
    assert.throws(
      () => loadConfig({ RERANK_PROVIDER: 'http' }),
      (error: unknown) => error instanceof ConfigError && error.variable === 'RERANK_BASE_URL',
    );
  });
});
