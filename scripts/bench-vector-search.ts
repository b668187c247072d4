/**
 * `node --import tsx scripts/bench-vector-search.ts [--count 10000] [--dimensions 384] [--json]`:
 * how long one exact search of the in-memory VectorIndex takes at the size of a local embedder's
 * knowledge base (10,000 vectors of 384 dimensions by default), top 100, median and slowest of 50
 * searches after a warm-up. The test suite checks that the search is exact; its speed is measured here.
 */
import { parseArgs } from 'node:util';
import { VectorIndex } from '@passage/retrieval';
import { seededRandom } from '@passage/spec';

const { values } = parseArgs({
  options: { count: { type: 'string', default: '10000' }, dimensions: { type: 'string', default: '384' }, json: { type: 'boolean', default: false } },
});
const count = Number(values.count);
const dimensions = Number(values.dimensions);
const random = seededRandom(1);
const vector = () => Array.from({ length: dimensions }, () => random() * 2 - 1);

const index = new VectorIndex();
index.add(Array.from({ length: count }, (_, number) => ({ id: `v-${number}`, vector: vector() })));
const queries = Array.from({ length: 60 }, vector);
for (const query of queries.slice(0, 10)) index.search(query, 100);
const timings = queries.slice(10).map((query) => {
  const started = performance.now();
  index.search(query, 100);
  return performance.now() - started;
});
timings.sort((left, right) => left - right);
const medianMs = timings[Math.floor(timings.length / 2)] ?? 0;
const slowestMs = timings.at(-1) ?? 0;
console.log(`${count} vectors of ${dimensions} dimensions, top 100: median ${medianMs.toFixed(2)} ms, slowest ${slowestMs.toFixed(2)} ms per search`);
if (values.json) console.log(JSON.stringify({ count, dimensions, medianMs, slowestMs }));
