import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AbortedError } from '@passage/spec';
import { writeFixtureModel } from './fixture-model.js';
import { TransformersEmbedder } from './transformers-embedder.js';

function norm(vector: number[]): number {
  return Math.sqrt(vector.reduce((sum, value) => sum + value * value, 0));
}

function assertVectorsClose(actual: number[] | undefined, expected: number[] | undefined): void {
  assert.ok(actual !== undefined && expected !== undefined && actual.length === expected.length);
  actual.forEach((value, index) => assert.ok(Math.abs(value - (expected[index] as number)) < 1e-5, `component ${index}: ${value} vs ${expected[index]}`));
}

describe('TransformersEmbedder with the fixture model', () => {
  let directory: string;
  let plain: string;
  let prompted: string;
  let cls: string;
  const realFetch = globalThis.fetch;

  before(async () => {
    directory = await mkdtemp(path.join(tmpdir(), 'passage-fixture-model-'));
    plain = (await writeFixtureModel(path.join(directory, 'plain'), { hiddenSize: 24 })).directory;
    prompted = (await writeFixtureModel(path.join(directory, 'prompted'), { prompts: { query: 'query: ', passage: 'passage: ' } })).directory;
    cls = (await writeFixtureModel(path.join(directory, 'cls'), { pooling: 'cls' })).directory;
    // Offline means offline: any network access fails the test.
    globalThis.fetch = async (input) => {
      throw new Error(`unexpected network access: ${input instanceof Request ? input.url : input.toString()}`);
    };
  });
  after(async () => {
    globalThis.fetch = realFetch;
    await rm(directory, { recursive: true, force: true });
  });

  it('loads a local folder offline and yields unit vectors of the model’s size', async () => {
    const embedder = await TransformersEmbedder.load({ model: plain });
    assert.equal(embedder.dimensions, 24);
    assert.equal(embedder.name, plain);
    assert.equal(embedder.pooling, 'mean');
    const vectors = await embedder.embed(['The moon pulls the tides.', 'A cake recipe', ''], 'passage');
    assert.equal(vectors.length, 3);
    for (const vector of vectors) {
      assert.equal(vector.length, 24);
      assert.ok(Math.abs(norm(vector) - 1) < 1e-5, `norm ${norm(vector)}`);
    }
    assert.deepEqual(await embedder.embed([], 'query'), []);
    await embedder.close();
  });

  it('gives the same vector for the same text and closer vectors for texts sharing words', async () => {
    const embedder = await TransformersEmbedder.load({ model: plain });
    const [moon, moonAgain, tides, cake] = await embedder.embed(
      ['the moon and the tides', 'The Moon and the Tides', 'moon tides ocean', 'sugar flour oven'],
      'passage',
    );
    assertVectorsClose(moon, moonAgain);
    const cosine = (left: number[] | undefined, right: number[] | undefined) =>
      (left ?? []).reduce((sum, value, index) => sum + value * ((right ?? [])[index] as number), 0);
    assert.ok(cosine(moon, tides) > cosine(moon, cake));
    await embedder.close();
  });

  it('batches without changing the vectors', async () => {
    const texts = ['moon', 'tides of the ocean', 'cake', 'what causes waves', 'earth gravity pulls water'];
    const whole = await TransformersEmbedder.load({ model: plain, batchSize: 32 });
    const small = await TransformersEmbedder.load({ model: plain, batchSize: 2 });
    const expected = await Promise.all(texts.map(async (text) => (await whole.embed([text], 'passage'))[0]));
    const batched = await small.embed(texts, 'passage');
    assert.equal(batched.length, texts.length);
    batched.forEach((vector, index) => assertVectorsClose(vector, expected[index]));
    await whole.close();
    await small.close();
  });

  it('puts the declared prefixes before queries and passages', async () => {
    const embedder = await TransformersEmbedder.load({ model: prompted });
    assert.equal(embedder.queryPrefix, 'query: ');
    assert.equal(embedder.passagePrefix, 'passage: ');
    const [asQuery] = await embedder.embed(['moon tides'], 'query');
    const [asPassage] = await embedder.embed(['moon tides'], 'passage');
    const [byHand] = await embedder.embed(['query: moon tides'], 'passage');
    assert.notDeepEqual(asQuery, asPassage);
    // The passage prefix is added too: "passage: query: moon tides" differs from "query: moon tides" …
    const noPrefix = await TransformersEmbedder.load({ model: prompted, queryPrefix: '', passagePrefix: '' });
    const [plainQuery] = await noPrefix.embed(['query: moon tides'], 'query');
    assertVectorsClose(asQuery, plainQuery);
    assert.notDeepEqual(byHand, plainQuery);
    // … and an explicit option wins over the folder's declaration.
    const [plainPassage] = await noPrefix.embed(['moon tides'], 'passage');
    const [plainAsQuery] = await noPrefix.embed(['moon tides'], 'query');
    assertVectorsClose(plainPassage, plainAsQuery);
    await embedder.close();
    await noPrefix.close();
  });

  it('takes the pooling the folder declares, or the one given', async () => {
    const declared = await TransformersEmbedder.load({ model: cls });
    assert.equal(declared.pooling, 'cls');
    const mean = await TransformersEmbedder.load({ model: cls, pooling: 'mean' });
    assert.equal(mean.pooling, 'mean');
    const [first] = await declared.embed(['moon tides'], 'passage');
    const [second] = await mean.embed(['moon tides'], 'passage');
    assert.notDeepEqual(first, second);
    // CLS pooling looks at the first token only, which is [CLS] for every text.
    const [other] = await declared.embed(['sugar'], 'passage');
    assertVectorsClose(first, other);
    await declared.close();
    await mean.close();
  });

  it('stops between batches when the signal aborts', async () => {
    const embedder = await TransformersEmbedder.load({ model: plain, batchSize: 1 });
    const controller = new AbortController();
    const pending = embedder.embed(['moon', 'tides', 'ocean'], 'passage', controller.signal);
    controller.abort();
    await assert.rejects(pending, AbortedError);
    await assert.rejects(embedder.embed(['moon'], 'query', controller.signal), AbortedError);
    await embedder.close();
  });

  it('fails to load a folder that does not exist or is not a model', async () => {
    await assert.rejects(TransformersEmbedder.load({ model: path.join(directory, 'missing') }), /does not exist/);
    await assert.rejects(TransformersEmbedder.load({ model: directory }));
    await assert.rejects(TransformersEmbedder.load({ model: plain, batchSize: 0 }), RangeError);
  });
});
