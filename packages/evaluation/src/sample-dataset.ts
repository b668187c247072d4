/**
 * A smaller, reproducible form of an evaluation set, for runs a full set makes too slow (a real
 * embedding model or reranker on two cores): a seeded sample of the queries, and a corpus of every
 * document judged relevant to a kept query plus a seeded sample of the others as distractors.
 * Fewer distractors make every mode score higher than on the full set: compare modes on the same
 * sample, never a sample's figure with a full set's.
 */
import { seededRandom } from '@passage/spec';
import type { BeirDataset } from './beir-dataset.js';

export interface SampleOptions {
  /** Documents to keep in all (the judged-relevant ones count; all of them are kept even past this). Default: all. */
  documents?: number;
  /** Queries to keep, among those with judgements or answers. Default: all. */
  queries?: number;
  /** Seed of both samples. Default 1. */
  seed?: number;
}

export function sampleDataset(dataset: BeirDataset, options: SampleOptions): BeirDataset {
  const random = seededRandom(options.seed ?? 1);
  const shuffled = <T>(items: T[]): T[] => {
    const copy = [...items];
    for (let index = copy.length - 1; index > 0; index -= 1) {
      const other = Math.floor(random() * (index + 1));
      [copy[index], copy[other]] = [copy[other]!, copy[index]!];
    }
    return copy;
  };
  const evaluated = dataset.queries.filter((query) => dataset.judgements.has(query.id) || (dataset.answers?.get(query.id)?.length ?? 0) > 0);
  const keptQueries =
    options.queries === undefined || options.queries >= evaluated.length
      ? evaluated
      : shuffled(evaluated).slice(0, options.queries).sort(byPosition(evaluated));
  const relevant = new Set<string>();
  for (const query of keptQueries) for (const [documentId, grade] of dataset.judgements.get(query.id) ?? []) if (grade > 0) relevant.add(documentId);
  const others = dataset.corpus.filter((record) => !relevant.has(record.id));
  const room = options.documents === undefined ? others.length : Math.max(0, options.documents - relevant.size);
  const distractors = new Set(shuffled(others.map((record) => record.id)).slice(0, room));
  const queryIds = new Set(keptQueries.map((query) => query.id));
  return {
    name: `${dataset.name} (sample: ${relevant.size + distractors.size} documents, ${keptQueries.length} queries, seed ${options.seed ?? 1})`,
    corpus: dataset.corpus.filter((record) => relevant.has(record.id) || distractors.has(record.id)),
    queries: keptQueries,
    judgements: new Map([...dataset.judgements].filter(([queryId]) => queryIds.has(queryId))),
    answers: dataset.answers === null ? null : new Map([...dataset.answers].filter(([queryId]) => queryIds.has(queryId))),
  };
}

function byPosition<T>(order: T[]): (a: T, b: T) => number {
  const position = new Map(order.map((item, index) => [item, index]));
  return (a, b) => position.get(a)! - position.get(b)!;
}
