import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { seededRandom } from '@passage/spec';
import { bertOnnxModel, type WeightTensor } from './bert-onnx-model.js';
import { writeFixtureModel } from './fixture-model.js';
import { TransformersEmbedder } from './transformers-embedder.js';

const hiddenSize = 8;
const shape = { hiddenSize, layers: 2, attentionHeads: 2, intermediateSize: 16 };

/** Seeded random weights for every tensor of a BERT encoder of `shape` over `vocabularySize` tokens. */
function randomWeights(vocabularySize: number): Map<string, WeightTensor> {
  const random = seededRandom(11);
  const tensors = new Map<string, WeightTensor>();
  const add = (name: string, dimensions: number[], fill = () => random() - 0.5) =>
    tensors.set(name, { shape: dimensions, data: Float32Array.from({ length: dimensions.reduce((a, b) => a * b, 1) }, fill) });
  add('embeddings.word_embeddings.weight', [vocabularySize, hiddenSize]);
  add('embeddings.position_embeddings.weight', [128, hiddenSize]);
  add('embeddings.token_type_embeddings.weight', [2, hiddenSize]);
  const norm = (prefix: string) => {
    add(`${prefix}.weight`, [hiddenSize], () => 1);
    add(`${prefix}.bias`, [hiddenSize], () => 0);
  };
  const linear = (prefix: string, inputs: number, outputs: number) => {
    add(`${prefix}.weight`, [outputs, inputs]);
    add(`${prefix}.bias`, [outputs]);
  };
  norm('embeddings.LayerNorm');
  for (let layer = 0; layer < shape.layers; layer += 1) {
    for (const part of ['query', 'key', 'value']) linear(`encoder.layer.${layer}.attention.self.${part}`, hiddenSize, hiddenSize);
    linear(`encoder.layer.${layer}.attention.output.dense`, hiddenSize, hiddenSize);
    norm(`encoder.layer.${layer}.attention.output.LayerNorm`);
    linear(`encoder.layer.${layer}.intermediate.dense`, hiddenSize, shape.intermediateSize);
    linear(`encoder.layer.${layer}.output.dense`, shape.intermediateSize, hiddenSize);
    norm(`encoder.layer.${layer}.output.LayerNorm`);
  }
  return tensors;
}

describe('bertOnnxModel', () => {
  let directory: string;

  before(async () => {
    directory = await mkdtemp(path.join(tmpdir(), 'passage-bert-onnx-'));
    const { vocabulary } = await writeFixtureModel(directory, { hiddenSize });
    const tensors = randomWeights(vocabulary.length);
    const lookup = (name: string) => tensors.get(name) ?? assert.fail(`no tensor ${name}`);
    await writeFile(path.join(directory, 'onnx', 'model.onnx'), bertOnnxModel(shape, lookup, { head: 'last-hidden-state', precision: 'fp32' }));
    await writeFile(path.join(directory, 'onnx', 'model_quantized.onnx'), bertOnnxModel(shape, lookup, { head: 'last-hidden-state', precision: 'q8' }));
  });
  after(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('writes an encoder whose padding changes nothing: a text embeds the same alone and beside a longer one', async () => {
    const embedder = await TransformersEmbedder.load({ model: directory });
    try {
      const [alone] = await embedder.embed(['the moon'], 'passage');
      const [padded] = await embedder.embed(['the moon', 'the sun pulls the earth and the sea and the ocean water'], 'passage');
      alone!.forEach((value, index) => assert.ok(Math.abs(value - padded![index]!) < 1e-5, `component ${index}: ${value} alone, ${padded![index]} padded`));
    } finally {
      await embedder.close();
    }
  });

  it('writes a q8 form whose vectors point where the fp32 ones do', async () => {
    const full = await TransformersEmbedder.load({ model: directory, precision: 'fp32' });
    const quantized = await TransformersEmbedder.load({ model: directory, precision: 'q8' });
    try {
      const texts = ['the moon pulls the tides', 'a cake recipe with flour'];
      const [a, b] = [await full.embed(texts, 'passage'), await quantized.embed(texts, 'passage')];
      a.forEach((vector, row) => {
        const cosine = vector.reduce((sum, value, index) => sum + value * b[row]![index]!, 0);
        assert.ok(cosine > 0.98, `row ${row}: cosine ${cosine}`);
      });
    } finally {
      await full.close();
      await quantized.close();
    }
  });

  it('embeds a text with q8 weights the same alone and beside other texts, whatever the batch size asked', async () => {
    const quantized = await TransformersEmbedder.load({ model: directory, precision: 'q8', batchSize: 8 });
    try {
      const [alone] = await quantized.embed(['the moon'], 'passage');
      const [beside] = await quantized.embed(['the moon', 'the sun pulls the earth and the sea and the ocean water', 'flour'], 'passage');
      assert.deepEqual(beside, alone);
    } finally {
      await quantized.close();
    }
  });

  it('names the tensor whose shape does not fit', () => {
    const tensors = randomWeights(10);
    tensors.set('encoder.layer.1.intermediate.dense.weight', { shape: [3, 3], data: new Float32Array(9) });
    assert.throws(
      () => bertOnnxModel(shape, (name) => tensors.get(name)!, { head: 'last-hidden-state', precision: 'fp32' }),
      /encoder\.layer\.1\.intermediate\.dense\.weight has shape \[3, 3\], expected \[16, 8\]/,
    );
  });
});
