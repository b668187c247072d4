import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AbortedError } from '@passage/spec';
import { describeRerankerContract } from '@passage/testing';
import { writeFixtureCrossEncoder } from './fixture-cross-encoder.js';
import { TransformersReranker } from './transformers-reranker.js';

let directory: string;
before(async () => {
  directory = await mkdtemp(path.join(tmpdir(), 'passage-cross-encoder-'));
  await writeFixtureCrossEncoder(directory);
});
after(async () => {
  await rm(directory, { recursive: true, force: true });
});

for (const precision of ['fp32', 'q8'] as const) {
  describeRerankerContract(`local fixture cross-encoder (${precision})`, async () => {
    const reranker = await TransformersReranker.load({ model: directory, precision, batchSize: 4 });
    return { reranker, cleanup: () => reranker.close() };
  });
}

describe('TransformersReranker', () => {
  const query = 'what causes the tides';
  const texts = ['the moon pulls the sea', 'a cake recipe', 'gravity of the sun and the earth pulls the ocean water'];

  it('scores in (0, 1), and texts that differ get different scores', async () => {
    const reranker = await TransformersReranker.load({ model: directory });
    try {
      const scores = await reranker.score(query, texts);
      for (const score of scores) assert.ok(score > 0 && score < 1, `score ${score}`);
      assert.equal(new Set(scores.map((score) => score.toFixed(6))).size, texts.length);
    } finally {
      await reranker.close();
    }
  });

  it('q8 weights score close to fp32 ones', async () => {
    const full = await TransformersReranker.load({ model: directory, precision: 'fp32' });
    const quantized = await TransformersReranker.load({ model: directory, precision: 'q8' });
    try {
      const [fullScores, quantizedScores] = [await full.score(query, texts), await quantized.score(query, texts)];
      fullScores.forEach((score, position) => assert.ok(Math.abs(score - quantizedScores[position]!) < 0.05, `${score} vs ${quantizedScores[position]}`));
    } finally {
      await full.close();
      await quantized.close();
    }
  });

  it('scores a pair with q8 weights the same alone and beside other pairs, whatever the batch size asked', async () => {
    const quantized = await TransformersReranker.load({ model: directory, precision: 'q8', batchSize: 8 });
    try {
      const [alone] = await quantized.score(query, [texts[0]!]);
      const [beside] = await quantized.score(query, texts);
      assert.equal(beside, alone);
    } finally {
      await quantized.close();
    }
  });

  it('cuts a pair longer than maxTokens instead of failing', async () => {
    const reranker = await TransformersReranker.load({ model: directory, maxTokens: 16 });
    try {
      const [score] = await reranker.score(query, ['the moon '.repeat(200)]);
      assert.ok(Number.isFinite(score));
    } finally {
      await reranker.close();
    }
  });

  it('runs calls one at a time, and a call aborted while it waits its turn rejects without running', async () => {
    const reranker = await TransformersReranker.load({ model: directory, batchSize: 1 });
    try {
      const controller = new AbortController();
      const first = reranker.score(
        query,
        Array.from({ length: 8 }, () => texts[2]!),
      );
      const second = reranker.score(query, texts, controller.signal);
      controller.abort();
      const secondRejected = assert.rejects(second, AbortedError);
      assert.equal((await first).length, 8);
      await secondRejected;
    } finally {
      await reranker.close();
    }
  });

  it('fails to load, naming the folder, when the model folder does not exist', async () => {
    const missing = path.join(directory, 'no-such-model');
    await assert.rejects(TransformersReranker.load({ model: missing }), new RegExp(`${missing.replaceAll('/', '\\/')} does not exist`));
  });
});
