/**
 * A tiny cross-encoder for tests, generated (nothing is downloaded): one BERT layer of width 16
 * with seeded random weights over the fixture embedder's vocabulary and tokenizer, under a
 * sequence-classification head, written by the same ONNX writer that prepares real models. Its
 * scores carry no meaning; it exercises the local rerank path (tokenizing pairs, padding, batching,
 * the graph real models use). About 40 kB.
 */
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bertOnnxModel, writeFixtureModel, type WeightTensor } from '@passage/embedder-transformers';
import { seededRandom } from '@passage/spec';

export interface FixtureCrossEncoder {
  directory: string;
}

/** Writes the fixture cross-encoder into `directory` (created if needed): `onnx/model.onnx` (fp32) and `onnx/model_quantized.onnx` (q8). */
export async function writeFixtureCrossEncoder(directory: string, options: { seed?: number } = {}): Promise<FixtureCrossEncoder> {
  const hiddenSize = 16;
  const intermediateSize = 32;
  const maxPositions = 128;
  const { vocabulary } = await writeFixtureModel(directory, { hiddenSize });
  await rm(path.join(directory, '1_Pooling'), { recursive: true, force: true });
  const random = seededRandom(options.seed ?? 7);
  const tensors = new Map<string, WeightTensor>();
  const tensor = (name: string, shape: number[], fill: () => number) => {
    const size = shape.reduce((product, dimension) => product * dimension, 1);
    tensors.set(name, { shape, data: Float32Array.from({ length: size }, fill) });
  };
  const noise = () => (random() * 2 - 1) * 0.5;
  tensor('embeddings.word_embeddings.weight', [vocabulary.length, hiddenSize], noise);
  tensor('embeddings.position_embeddings.weight', [maxPositions, hiddenSize], noise);
  tensor('embeddings.token_type_embeddings.weight', [2, hiddenSize], noise);
  const layerNorm = (prefix: string) => {
    tensor(`${prefix}.weight`, [hiddenSize], () => 1);
    tensor(`${prefix}.bias`, [hiddenSize], () => 0);
  };
  const linear = (prefix: string, inputs: number, outputs: number) => {
    tensor(`${prefix}.weight`, [outputs, inputs], noise);
    tensor(`${prefix}.bias`, [outputs], noise);
  };
  layerNorm('embeddings.LayerNorm');
  for (const part of ['query', 'key', 'value']) linear(`encoder.layer.0.attention.self.${part}`, hiddenSize, hiddenSize);
  linear('encoder.layer.0.attention.output.dense', hiddenSize, hiddenSize);
  layerNorm('encoder.layer.0.attention.output.LayerNorm');
  linear('encoder.layer.0.intermediate.dense', hiddenSize, intermediateSize);
  linear('encoder.layer.0.output.dense', intermediateSize, hiddenSize);
  layerNorm('encoder.layer.0.output.LayerNorm');
  linear('pooler.dense', hiddenSize, hiddenSize);
  linear('classifier', hiddenSize, 1);
  const lookup = (name: string): WeightTensor => {
    const found = tensors.get(name);
    if (found === undefined) throw new Error(`fixture cross-encoder: no tensor ${name}`);
    return found;
  };

  const shape = { hiddenSize, layers: 1, attentionHeads: 2, intermediateSize };
  await writeFile(path.join(directory, 'onnx', 'model.onnx'), bertOnnxModel(shape, lookup, { head: 'sequence-classification', precision: 'fp32' }));
  await writeFile(path.join(directory, 'onnx', 'model_quantized.onnx'), bertOnnxModel(shape, lookup, { head: 'sequence-classification', precision: 'q8' }));
  await writeFile(
    path.join(directory, 'config.json'),
    `${JSON.stringify(
      {
        architectures: ['BertForSequenceClassification'],
        model_type: 'bert',
        hidden_size: hiddenSize,
        vocab_size: vocabulary.length,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        intermediate_size: intermediateSize,
        max_position_embeddings: maxPositions,
        type_vocab_size: 2,
        pad_token_id: 0,
        num_labels: 1,
        id2label: { 0: 'LABEL_0' },
        label2id: { LABEL_0: 0 },
      },
      null,
      2,
    )}\n`,
  );
  return { directory };
}
