/**
 * Ranking metrics, as BEIR computes them with pytrec_eval: a ranking is a list of ids, best first;
 * judgements map ids to relevance grades, and an id is relevant when its grade is above 0.
 */

/**
 * nDCG@k with linear gain (trec_eval's `ndcg_cut`): DCG = Σ grade(rank i) / log2(i + 1) over the
 * first k ranks, divided by the DCG of the ideal ranking of every judged id. 0 when nothing is
 * relevant.
 */
export function ndcgAtK(ranking: readonly string[], judgements: ReadonlyMap<string, number>, k: number): number {
  let dcg = 0;
  ranking.slice(0, k).forEach((id, index) => {
    const grade = judgements.get(id) ?? 0;
    if (grade > 0) dcg += grade / Math.log2(index + 2);
  });
  const ideal = [...judgements.values()]
    .filter((grade) => grade > 0)
    .sort((left, right) => right - left)
    .slice(0, k);
  const idealDcg = ideal.reduce((sum, grade, index) => sum + grade / Math.log2(index + 2), 0);
  return idealDcg === 0 ? 0 : dcg / idealDcg;
}

/** Share of the relevant ids found in the first k ranks; 0 when nothing is relevant. */
export function recallAtK(ranking: readonly string[], judgements: ReadonlyMap<string, number>, k: number): number {
  const relevant = [...judgements.values()].filter((grade) => grade > 0).length;
  if (relevant === 0) return 0;
  const found = new Set(ranking.slice(0, k).filter((id) => (judgements.get(id) ?? 0) > 0)).size;
  return found / relevant;
}

/** 1 / rank of the first relevant id within the first k ranks (ranks from 1), else 0. */
export function reciprocalRankAtK(ranking: readonly string[], judgements: ReadonlyMap<string, number>, k: number): number {
  const position = ranking.slice(0, k).findIndex((id) => (judgements.get(id) ?? 0) > 0);
  return position < 0 ? 0 : 1 / (position + 1);
}

/**
 * Whether one of the first k passages contains one of the gold answers, both compared after NFKC,
 * lowercasing and collapsing white space (so a line break inside a passage does not hide an answer).
 */
export function answerFoundAtK(passages: readonly string[], answers: readonly string[], k: number): boolean {
  const wanted = answers.map(normalizeForMatching).filter((answer) => answer !== '');
  if (wanted.length === 0) return false;
  return passages.slice(0, k).some((passage) => {
    const text = normalizeForMatching(passage);
    return wanted.some((answer) => text.includes(answer));
  });
}

function normalizeForMatching(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/\s+/gu, ' ').trim();
}

/**
 * Document ranking from a chunk ranking: each document at the rank of its best chunk (its first
 * appearance), as its score is its best chunk's.
 */
export function documentRanking(chunkDocumentIds: readonly string[]): string[] {
  return [...new Set(chunkDocumentIds)];
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((sum, value) => sum + value, 0) / values.length;
}
