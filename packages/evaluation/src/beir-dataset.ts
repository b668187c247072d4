/**
 * Reads a retrieval evaluation set in the BEIR layout: `corpus.jsonl` (`{id, title, text}` a line),
 * `queries.jsonl` (`{id, text}`), `qrels.tsv` (a header, then `query-id<TAB>corpus-id<TAB>score`)
 * and, optionally, `answers.jsonl` (`{id, answers: [...]}`, the gold answer strings of a query).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { throwIfAborted } from '@passage/spec';

export interface CorpusRecord {
  id: string;
  title: string;
  text: string;
}

export interface EvaluationQuery {
  id: string;
  text: string;
}

export interface BeirDataset {
  /** The folder's name, e.g. `en_scifact`. */
  name: string;
  corpus: CorpusRecord[];
  queries: EvaluationQuery[];
  /** Relevance grades by query id, then corpus id. */
  judgements: Map<string, Map<string, number>>;
  /** Gold answer strings by query id; null when the set has no `answers.jsonl`. */
  answers: Map<string, string[]> | null;
}

/** A file of the set is missing or malformed; the message names the file and line. */
export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}

export async function loadBeirDataset(directory: string, signal?: AbortSignal): Promise<BeirDataset> {
  const read = async (file: string, optional = false): Promise<string | null> => {
    throwIfAborted(signal);
    try {
      return await readFile(path.join(directory, file), { encoding: 'utf8', ...(signal === undefined ? {} : { signal }) });
    } catch (error) {
      if (optional && (error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new DatasetError(`Cannot read ${path.join(directory, file)}: ${(error as Error).message}`);
    }
  };
  const [corpusText, queriesText, qrelsText, answersText] = await Promise.all([
    read('corpus.jsonl'),
    read('queries.jsonl'),
    read('qrels.tsv'),
    read('answers.jsonl', true),
  ]);

  const corpus = parseJsonLines('corpus.jsonl', corpusText ?? '', (value, where) => ({
    id: requiredString(value, 'id', where),
    title: optionalString(value, 'title', where),
    text: optionalString(value, 'text', where),
  }));
  const queries = parseJsonLines('queries.jsonl', queriesText ?? '', (value, where) => ({
    id: requiredString(value, 'id', where),
    text: requiredString(value, 'text', where),
  }));
  const answers =
    answersText === null
      ? null
      : new Map(
          parseJsonLines('answers.jsonl', answersText, (value, where) => {
            const list = (value as { answers?: unknown }).answers;
            if (!Array.isArray(list) || !list.every((answer) => typeof answer === 'string')) {
              throw new DatasetError(`${where}: "answers" must be a list of strings`);
            }
            return [requiredString(value, 'id', where), list.filter((answer) => answer.trim() !== '')] as const;
          }),
        );
  return { name: path.basename(path.resolve(directory)), corpus, queries, judgements: parseQrels(qrelsText ?? ''), answers };
}

function parseJsonLines<T>(file: string, text: string, convert: (value: unknown, where: string) => T): T[] {
  const result: T[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    const where = `${file} line ${index + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new DatasetError(`${where}: ${(error as Error).message}`);
    }
    if (typeof value !== 'object' || value === null) throw new DatasetError(`${where}: not a JSON object`);
    result.push(convert(value, where));
  });
  return result;
}

function requiredString(value: unknown, key: string, where: string): string {
  const field = (value as Record<string, unknown>)[key];
  // Ids are sometimes written as numbers.
  if (typeof field === 'number') return String(field);
  if (typeof field !== 'string' || field === '') throw new DatasetError(`${where}: "${key}" must be a non-empty string`);
  return field;
}

function optionalString(value: unknown, key: string, where: string): string {
  const field = (value as Record<string, unknown>)[key];
  if (field === undefined || field === null) return '';
  if (typeof field !== 'string') throw new DatasetError(`${where}: "${key}" must be a string`);
  return field;
}

function parseQrels(text: string): Map<string, Map<string, number>> {
  const judgements = new Map<string, Map<string, number>>();
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    const fields = line.split('\t').map((field) => field.trim());
    const [queryId, corpusId, scoreText] = fields;
    const score = Number(scoreText);
    if (queryId === undefined || corpusId === undefined || scoreText === undefined || fields.length !== 3 || !Number.isFinite(score)) {
      if (index === 0) return; // the header
      throw new DatasetError(`qrels.tsv line ${index + 1}: expected query-id, corpus-id and a numeric score, tab-separated`);
    }
    let forQuery = judgements.get(queryId);
    if (forQuery === undefined) {
      forQuery = new Map();
      judgements.set(queryId, forQuery);
    }
    forQuery.set(corpusId, score);
  });
  return judgements;
}
