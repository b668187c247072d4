import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeFixtureModel } from '@passage/embedder-transformers';
import { ConfigError, loadConfig, silentLogger } from '@passage/spec';
import { createEmbedder } from './create-embedder.js';

describe('createEmbedder, EMBEDDING_PROVIDER=local', () => {
  let directory: string;
  let model: string;

  before(async () => {
    directory = await mkdtemp(path.join(tmpdir(), 'passage-local-embedder-'));
    model = (await writeFixtureModel(path.join(directory, 'model'), { hiddenSize: 12 })).directory;
  });
  after(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('loads the model folder EMBEDDING_MODEL names', async () => {
    const config = loadConfig({ EMBEDDING_PROVIDER: 'local', EMBEDDING_MODEL: model, DATA_DIR: path.join(directory, 'data') });
    const embedder = await createEmbedder(config, silentLogger);
    assert.ok(embedder !== null);
    assert.equal(embedder.dimensions, 12);
    const [vector] = await embedder.embed(['moon tides'], 'query');
    assert.equal(vector?.length, 12);
  });

  it('stops the start with a ConfigError naming EMBEDDING_MODEL when the model cannot be loaded', async () => {
    const config = loadConfig({ EMBEDDING_PROVIDER: 'local', EMBEDDING_MODEL: path.join(directory, 'no-such-model'), DATA_DIR: path.join(directory, 'data') });
    await assert.rejects(createEmbedder(config, silentLogger), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.variable, 'EMBEDDING_MODEL');
      assert.match(error.message, /no-such-model/);
      return true;
    });
  });
});
