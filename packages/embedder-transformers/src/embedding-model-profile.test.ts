import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { profileFromModelFolder, profileFromModelName } from './embedding-model-profile.js';
import { writeFixtureModel } from './fixture-model.js';

describe('embedding model profiles', () => {
  it('recognises model families by name', () => {
    const e5 = { pooling: 'mean', queryPrefix: 'query: ', passagePrefix: 'passage: ' };
    assert.deepEqual(profileFromModelName('Xenova/multilingual-e5-small'), e5);
    assert.deepEqual(profileFromModelName('intfloat/e5-base-v2'), e5);
    assert.deepEqual(profileFromModelName('/models/e5-small-v2/'), e5);
    assert.deepEqual(profileFromModelName('Xenova/bge-small-en-v1.5'), {
      pooling: 'cls',
      queryPrefix: 'Represent this sentence for searching relevant passages: ',
      passagePrefix: '',
    });
    assert.deepEqual(profileFromModelName('Xenova/bge-small-zh-v1.5'), {
      pooling: 'cls',
      queryPrefix: '为这个句子生成表示以用于检索相关文章：',
      passagePrefix: '',
    });
    assert.deepEqual(profileFromModelName('Xenova/bge-m3'), { pooling: 'cls', queryPrefix: '', passagePrefix: '' });
    assert.deepEqual(profileFromModelName('nomic-ai/nomic-embed-text-v1.5'), {
      pooling: 'mean',
      queryPrefix: 'search_query: ',
      passagePrefix: 'search_document: ',
    });
    assert.deepEqual(profileFromModelName('Xenova/all-MiniLM-L6-v2'), { pooling: 'mean', queryPrefix: '', passagePrefix: '' });
    // "e5" must be a word of the name, not any pair of characters.
    assert.equal(profileFromModelName('acme/be5t-model').queryPrefix, '');
  });

  it('reads what a sentence-transformers folder declares', async () => {
    const directory = await mkdtemp(path.join(tmpdir(), 'passage-profile-'));
    try {
      await writeFixtureModel(path.join(directory, 'a'), { pooling: 'cls', prompts: { query: 'q> ', passage: 'p> ' } });
      assert.deepEqual(await profileFromModelFolder(path.join(directory, 'a')), { pooling: 'cls', queryPrefix: 'q> ', passagePrefix: 'p> ' });
      await writeFixtureModel(path.join(directory, 'b'));
      assert.deepEqual(await profileFromModelFolder(path.join(directory, 'b')), { pooling: 'mean' });
      assert.deepEqual(await profileFromModelFolder(directory), {}, 'a folder that declares nothing');
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
