/**
 * How a sentence-embedding model wants to be used: its pooling and the prefixes it was trained
 * with. A model folder in the sentence-transformers layout says so itself (`1_Pooling/config.json`,
 * the `prompts` of `config_sentence_transformers.json`); otherwise the family is recognised by name.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

export type Pooling = 'mean' | 'cls';

export interface EmbeddingModelProfile {
  pooling: Pooling;
  /** Put before a query. */
  queryPrefix: string;
  /** Put before a passage. */
  passagePrefix: string;
}

const bgeEnglishInstruction = 'Represent this sentence for searching relevant passages: ';
const bgeChineseInstruction = '为这个句子生成表示以用于检索相关文章：';

/**
 * By the model's name (the last part of a hub id or folder path):
 * - E5 (`intfloat/e5-*`, `multilingual-e5-*`): mean pooling, `query: ` and `passage: ` prefixes,
 *   without which its retrieval quality drops markedly.
 * - BGE (`BAAI/bge-*`): CLS pooling; the English and Chinese v1/v1.5 models take a retrieval
 *   instruction before queries (passages get none); bge-m3 takes none.
 * - Nomic (`nomic-embed-text-*`): mean pooling, `search_query: ` and `search_document: `.
 * - Anything else (MiniLM, mpnet, GTE…): mean pooling, no prefixes.
 */
export function profileFromModelName(model: string): EmbeddingModelProfile {
  const name = path.basename(model.replace(/[\\/]+$/u, '')).toLowerCase();
  if (/(^|[^a-z0-9])e5([^a-z0-9]|$)/u.test(name)) return { pooling: 'mean', queryPrefix: 'query: ', passagePrefix: 'passage: ' };
  if (/(^|[^a-z0-9])bge/u.test(name)) {
    if (/bge-m3/u.test(name)) return { pooling: 'cls', queryPrefix: '', passagePrefix: '' };
    if (/-zh/u.test(name)) return { pooling: 'cls', queryPrefix: bgeChineseInstruction, passagePrefix: '' };
    if (/-en/u.test(name)) return { pooling: 'cls', queryPrefix: bgeEnglishInstruction, passagePrefix: '' };
    return { pooling: 'cls', queryPrefix: '', passagePrefix: '' };
  }
  if (/nomic-embed-text/u.test(name)) return { pooling: 'mean', queryPrefix: 'search_query: ', passagePrefix: 'search_document: ' };
  return { pooling: 'mean', queryPrefix: '', passagePrefix: '' };
}

/**
 * What a local model folder declares about itself; fields it does not declare are absent. Throws
 * if a declaration file exists but is not valid JSON.
 */
export async function profileFromModelFolder(folder: string): Promise<Partial<EmbeddingModelProfile>> {
  const profile: Partial<EmbeddingModelProfile> = {};
  const pooling = (await readOptionalJson(path.join(folder, '1_Pooling', 'config.json'))) as Record<string, unknown> | null;
  if (pooling?.['pooling_mode_cls_token'] === true) profile.pooling = 'cls';
  else if (pooling?.['pooling_mode_mean_tokens'] === true) profile.pooling = 'mean';
  const settings = (await readOptionalJson(path.join(folder, 'config_sentence_transformers.json'))) as { prompts?: Record<string, unknown> } | null;
  const prompts = settings?.prompts;
  if (prompts !== undefined && prompts !== null) {
    const query = prompts['query'];
    const passage = prompts['passage'] ?? prompts['document'] ?? prompts['corpus'];
    if (typeof query === 'string') profile.queryPrefix = query;
    if (typeof passage === 'string') profile.passagePrefix = passage;
  }
  return profile;
}

async function readOptionalJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new Error(`${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}
