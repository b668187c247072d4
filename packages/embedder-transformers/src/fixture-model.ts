/**
 * A tiny embedding model for tests, written from scratch (nothing is downloaded): a BERT-style
 * folder as transformers.js loads it — `config.json`, `tokenizer.json` (WordPiece, lowercasing,
 * [CLS]/[SEP]), `tokenizer_config.json`, the sentence-transformers `1_Pooling/config.json`, and
 * `onnx/model.onnx`.
 *
 * The network is one lookup: last_hidden_state = tanh(embedding[input_ids]) × attention_mask, with
 * a seeded random embedding table. Texts with the same words get the same vector, texts sharing
 * words get similar vectors; that is all a test needs. About 10 kB.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { seededRandom } from '@passage/spec';
import { ProtobufWriter } from './protobuf-writer.js';

export interface FixtureModelOptions {
  /** Vector size. Default 16. */
  hiddenSize?: number;
  /** Pooling declared in `1_Pooling/config.json`. Default "mean". */
  pooling?: 'mean' | 'cls';
  /** Prompts declared in `config_sentence_transformers.json`, as e5-style models do. Default: none. */
  prompts?: { query: string; passage: string };
  /** Seed of the embedding table. Default 1. */
  seed?: number;
}

export interface FixtureModel {
  directory: string;
  hiddenSize: number;
  vocabulary: string[];
}

const specialTokens = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
const words = [
  'the',
  'moon',
  'tide',
  'tides',
  'sea',
  'ocean',
  'water',
  'wave',
  'sun',
  'earth',
  'gravity',
  'pull',
  'pulls',
  'cake',
  'flour',
  'sugar',
  'bread',
  'recipe',
  'oven',
  'query',
  'passage',
  'document',
  'search',
  'what',
  'causes',
  'how',
  'why',
  'is',
  'are',
  'of',
  'a',
  'and',
  'in',
  'on',
  'to',
];
const characters = Array.from('abcdefghijklmnopqrstuvwxyz0123456789');
const punctuation = Array.from('.,:;!?\'"-()');

/** The fixture's vocabulary, ids in order. */
export function fixtureVocabulary(): string[] {
  return [...specialTokens, ...words, ...characters, ...characters.map((character) => `##${character}`), ...punctuation];
}

/** Writes the fixture model into `directory` (created if needed) and describes it. */
export async function writeFixtureModel(directory: string, options: FixtureModelOptions = {}): Promise<FixtureModel> {
  const hiddenSize = options.hiddenSize ?? 16;
  if (!Number.isInteger(hiddenSize) || hiddenSize < 1) throw new RangeError(`hiddenSize must be a positive integer, got ${hiddenSize}`);
  const vocabulary = fixtureVocabulary();
  const random = seededRandom(options.seed ?? 1);
  const embeddings = new Float32Array(vocabulary.length * hiddenSize);
  for (let index = 0; index < embeddings.length; index += 1) embeddings[index] = random() * 2 - 1;

  await mkdir(path.join(directory, 'onnx'), { recursive: true });
  await mkdir(path.join(directory, '1_Pooling'), { recursive: true });
  const json = (file: string, value: unknown) => writeFile(path.join(directory, file), `${JSON.stringify(value, null, 2)}\n`);
  await json('config.json', {
    architectures: ['BertModel'],
    model_type: 'bert',
    hidden_size: hiddenSize,
    vocab_size: vocabulary.length,
    num_hidden_layers: 0,
    num_attention_heads: 1,
    intermediate_size: hiddenSize,
    max_position_embeddings: 128,
    type_vocab_size: 1,
    pad_token_id: 0,
  });
  await json('tokenizer_config.json', {
    tokenizer_class: 'BertTokenizer',
    do_lower_case: true,
    model_max_length: 128,
    cls_token: '[CLS]',
    sep_token: '[SEP]',
    pad_token: '[PAD]',
    unk_token: '[UNK]',
    mask_token: '[MASK]',
  });
  await json('tokenizer.json', tokenizerJson(vocabulary));
  await json('1_Pooling/config.json', {
    word_embedding_dimension: hiddenSize,
    pooling_mode_cls_token: options.pooling === 'cls',
    pooling_mode_mean_tokens: options.pooling !== 'cls',
    pooling_mode_max_tokens: false,
  });
  if (options.prompts !== undefined) {
    await json('config_sentence_transformers.json', { prompts: options.prompts, default_prompt_name: null });
  }
  await writeFile(path.join(directory, 'onnx', 'model.onnx'), onnxModel(vocabulary.length, hiddenSize, embeddings));
  return { directory, hiddenSize, vocabulary };
}

function tokenizerJson(vocabulary: string[]): unknown {
  const id = (token: string) => vocabulary.indexOf(token);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specialTokens.map((content) => ({
      id: id(content),
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: { type: 'BertProcessing', sep: ['[SEP]', id('[SEP]')], cls: ['[CLS]', id('[CLS]')] },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocabulary.map((token, index) => [token, index])),
    },
  };
}

// ONNX enums (onnx.proto3): TensorProto.DataType and AttributeProto.AttributeType.
const float = 1;
const int64 = 7;
const attributeInt = 2;

/** The ONNX ModelProto of the lookup network, opset 13. */
function onnxModel(vocabularySize: number, hiddenSize: number, embeddings: Float32Array): Uint8Array {
  const node = (inputs: string[], outputs: string[], operator: string, attribute?: { name: string; value: number }) => (node: ProtobufWriter) => {
    for (const input of inputs) node.string(1, input);
    for (const output of outputs) node.string(2, output);
    node.string(3, `${operator.toLowerCase()}_${outputs[0]}`);
    node.string(4, operator);
    if (attribute !== undefined) node.message(5, (entry) => entry.string(1, attribute.name).varint(3, attribute.value).varint(20, attributeInt));
  };
  const tensor = (name: string, dataType: number, dimensions: number[], raw: Uint8Array) => (entry: ProtobufWriter) => {
    for (const dimension of dimensions) entry.varint(1, dimension);
    entry.varint(2, dataType).string(8, name).bytes(9, raw);
  };
  const valueInfo = (name: string, elementType: number, dimensions: string[]) => (entry: ProtobufWriter) => {
    entry.string(1, name).message(2, (type) =>
      type.message(1, (tensorType) =>
        tensorType.varint(1, elementType).message(2, (shape) => {
          for (const dimension of dimensions) shape.message(1, (dim) => dim.string(2, dimension));
        }),
      ),
    );
  };
  const axes = new Uint8Array(8);
  new DataView(axes.buffer).setBigInt64(0, 2n, true);
  const embeddingBytes = new Uint8Array(embeddings.length * 4);
  const view = new DataView(embeddingBytes.buffer);
  embeddings.forEach((value, index) => view.setFloat32(index * 4, value, true));

  return new ProtobufWriter()
    .varint(1, 7) // ir_version
    .string(2, 'passage fixture')
    .message(7, (graph) => {
      graph
        .message(1, node(['embeddings', 'input_ids'], ['gathered'], 'Gather', { name: 'axis', value: 0 }))
        .message(1, node(['gathered'], ['activated'], 'Tanh'))
        .message(1, node(['attention_mask'], ['mask'], 'Cast', { name: 'to', value: float }))
        .message(1, node(['mask', 'axes'], ['mask_3d'], 'Unsqueeze'))
        .message(1, node(['activated', 'mask_3d'], ['last_hidden_state'], 'Mul'))
        .string(2, 'fixture')
        .message(5, tensor('embeddings', float, [vocabularySize, hiddenSize], embeddingBytes))
        .message(5, tensor('axes', int64, [1], axes))
        .message(11, valueInfo('input_ids', int64, ['batch_size', 'sequence_length']))
        .message(11, valueInfo('attention_mask', int64, ['batch_size', 'sequence_length']))
        .message(12, (entry) =>
          entry.string(1, 'last_hidden_state').message(2, (type) =>
            type.message(1, (tensorType) =>
              tensorType.varint(1, float).message(2, (shape) => {
                shape.message(1, (dim) => dim.string(2, 'batch_size'));
                shape.message(1, (dim) => dim.string(2, 'sequence_length'));
                shape.message(1, (dim) => dim.varint(1, hiddenSize));
              }),
            ),
          ),
        );
    })
    .message(8, (opset) => opset.string(1, '').varint(2, 13))
    .finish();
}
