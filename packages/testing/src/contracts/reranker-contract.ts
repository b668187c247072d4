import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AbortedError, type Reranker } from '@passage/spec';

const query = 'what causes the tides of the sea';
const texts = [
  'the moon pulls the sea and the tides follow',
  'a cake recipe with flour and sugar',
  'gravity of the sun and the earth',
  'bread in the oven',
  'why is the ocean water salty',
];

/**
 * The behaviour every Reranker adapter must have. `create` gives a ready reranker and what frees it.
 * `tolerance` is how far a text's score may move with the other texts of its call: 1e-4 by default;
 * int8 models quantize their activations per call, so a batch's range nudges every score in it.
 */
export function describeRerankerContract(
  name: string,
  create: () => Promise<{ reranker: Reranker; cleanup: () => Promise<void> }>,
  options: { tolerance?: number } = {},
): void {
  const tolerance = options.tolerance ?? 1e-4;
  describe(`Reranker contract: ${name}`, () => {
    let reranker: Reranker;
    let cleanup: () => Promise<void>;

    before(async () => {
      ({ reranker, cleanup } = await create());
    });
    after(async () => {
      await cleanup();
    });

    it('returns one finite score per text, in the order of the texts', async () => {
      const scores = await reranker.score(query, texts);
      assert.equal(scores.length, texts.length);
      for (const score of scores) assert.ok(Number.isFinite(score), `score ${score} is not finite`);
      const alone = await Promise.all(texts.map(async (text) => (await reranker.score(query, [text]))[0]));
      scores.forEach((score, position) =>
        assert.ok(Math.abs(score - alone[position]!) < tolerance, `text ${position}: ${score} in a batch, ${alone[position]} alone`),
      );
    });

    it('gives a text the same score whatever the other texts and their order', async () => {
      const forward = await reranker.score(query, texts);
      const backward = await reranker.score(query, [...texts].reverse());
      forward.forEach((score, position) => assert.ok(Math.abs(score - backward[texts.length - 1 - position]!) < tolerance));
    });

    it('scores more texts than one batch holds, each in its place', async () => {
      const many = Array.from({ length: 70 }, (_, position) => texts[position % texts.length]!);
      const scores = await reranker.score(query, many);
      const reference = await reranker.score(query, texts);
      assert.equal(scores.length, many.length);
      scores.forEach((score, position) => assert.ok(Math.abs(score - reference[position % texts.length]!) < tolerance));
    });

    it('returns nothing for no texts', async () => {
      assert.deepEqual(await reranker.score(query, []), []);
    });

    it('rejects with AbortedError when the signal is already aborted', async () => {
      await assert.rejects(reranker.score(query, texts, AbortSignal.abort()), AbortedError);
    });
  });
}
