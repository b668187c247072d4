/**
 * Lexical terms as Qdrant sparse vectors. The analyzer's terms are strings; a sparse vector
 * dimension is a uint32, so each term maps to the 32-bit FNV-1a hash of its UTF-8 bytes. Two
 * terms can share a dimension (with 100,000 distinct terms in a collection, about one pair does);
 * they then count as one term, which costs a little precision and nothing else. The mapping
 * depends on nothing but the term, so documents and queries agree across processes and versions.
 *
 * Qdrant's `modifier: "idf"` multiplies each query dimension by the collection's IDF,
 * ln(1 + (N − df + 0.5) / (df + 0.5)), the same IDF as the embedded BM25. The rest of BM25 (term
 * frequency saturation and length normalisation) is not computed by Qdrant, so the document side
 * carries it: w = tf · (k1 + 1) / (tf + k1 · (1 − b + b · dl / avgdl)), with dl the chunk's term
 * count and avgdl a fixed estimate (Qdrant cannot give the collection's mean at write time).
 * The query side carries the query term frequency. The dot product is then the BM25 score.
 */

export interface SparseVector {
  indices: number[];
  values: number[];
}

export interface Bm25WeightOptions {
  /** Term-frequency saturation. Default 1.2, as the embedded index. */
  k1?: number;
  /** Length normalisation, 0 to 1. Default 0.75, as the embedded index. */
  b?: number;
  /**
   * Estimated mean term count of a chunk (the analyzer's terms, repeats counted). Default 100:
   * English chunks of 256 tokens have 80 to 100; Chinese ones, with character n-grams, several
   * hundred, which shifts saturation for all of their chunks alike.
   */
  averageTerms?: number;
}

const fnvOffsetBasis = 0x811c9dc5;
const fnvPrime = 0x01000193;
const encoder = new TextEncoder();

/** The sparse dimension of a term: FNV-1a (32 bit) of its UTF-8 bytes. */
export function termDimension(term: string): number {
  let hash = fnvOffsetBasis;
  for (const byte of encoder.encode(term)) {
    hash ^= byte;
    hash = Math.imul(hash, fnvPrime) >>> 0;
  }
  return hash >>> 0;
}

/** Sums weights per dimension (terms that collide add up) and sorts by dimension. */
function toSparse(weights: Iterable<[string, number]>): SparseVector {
  const byDimension = new Map<number, number>();
  for (const [term, weight] of weights) {
    if (!(weight > 0) || !Number.isFinite(weight)) continue;
    const dimension = termDimension(term);
    byDimension.set(dimension, (byDimension.get(dimension) ?? 0) + weight);
  }
  const indices = [...byDimension.keys()].sort((left, right) => left - right);
  return { indices, values: indices.map((dimension) => byDimension.get(dimension)!) };
}

/** A chunk's BM25 document-side weights. */
export function documentSparseVector(terms: Record<string, number>, options: Bm25WeightOptions = {}): SparseVector {
  const k1 = options.k1 ?? 1.2;
  const b = options.b ?? 0.75;
  const averageTerms = options.averageTerms ?? 100;
  const entries = Object.entries(terms).filter(([, frequency]) => frequency > 0 && Number.isFinite(frequency));
  const length = entries.reduce((sum, [, frequency]) => sum + frequency, 0);
  const norm = k1 * (1 - b + (b * length) / averageTerms);
  return toSparse(entries.map(([term, frequency]) => [term, (frequency * (k1 + 1)) / (frequency + norm)]));
}

/** A query's weights: its term frequencies (Qdrant applies the IDF). */
export function querySparseVector(terms: Record<string, number>): SparseVector {
  return toSparse(Object.entries(terms));
}
