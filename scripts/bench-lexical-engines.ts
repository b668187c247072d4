/**
 * `npm run bench:lexical-engines -- --data <dir> [--limit <chunks>] [--json]`: the choice behind the
 * embedded lexical index, measured on a data folder that `npm run bench:scale -- --keep <dir>` made.
 * The same stored chunks (the first `--limit` of the largest knowledge base, default all) and the
 * same ten-word queries go to (a) a segment built from them on this thread and searched with this
 * project's BM25 and document evidence and (b) SQLite FTS5 through better-sqlite3, fed our analyzer's terms
 * (each term written as an opaque token `t<number>` as often as its frequency, so FTS5's own
 * tokenizer cannot split or fold them) and ranked by FTS5's bm25() (its IDF and no document
 * evidence: not our ranking). Prints build time, bytes, resident memory added and query p50/p99.
 * Run it with `node --expose-gc` for the memory figures to be after a collection.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { LexicalSegment, LexicalSegmentBuilder, SegmentedBm25Index, createAnalyzer, defaultDocumentWeight } from '@passage/retrieval';
import { seededRandom } from '@passage/spec';
import { openDatabase } from '@passage/store-sqlite';

const { values } = parseArgs({
  options: { data: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean', default: false } },
  strict: true,
});
const limit = values.limit === undefined ? Number.MAX_SAFE_INTEGER : Number(values.limit);
if (values.data === undefined) {
  console.error('usage: npm run bench:lexical-engines -- --data <folder made by bench:scale --keep>');
  process.exit(2);
}
const directory = values.data;
const database = openDatabase({ dataDirectory: directory });
const { id: knowledgeBaseId } = database
  .prepare('SELECT knowledge_base_id AS id, COUNT(*) AS count FROM chunks GROUP BY knowledge_base_id ORDER BY count DESC LIMIT 1')
  .get() as {
  id: string;
};

// Queries: ten words drawn from the stored chunks' own text.
const random = seededRandom(5);
const sample = database.prepare('SELECT text FROM chunks WHERE knowledge_base_id = ? ORDER BY rowid LIMIT 2000').all(knowledgeBaseId) as Array<{
  text: string;
}>;
const analyzer = createAnalyzer();
const queries = Array.from({ length: 200 }, () => {
  const words = (sample[Math.floor(random() * sample.length)] as { text: string }).text.split(/\s+/);
  const start = Math.floor(random() * Math.max(1, words.length - 10));
  return analyzer.termFrequencies(words.slice(start, start + 10).join(' '));
});

const percentiles = (times: number[]) => {
  const sorted = [...times].sort((left, right) => left - right);
  const at = (fraction: number) => Math.round((sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] as number) * 100) / 100;
  return { p50Ms: at(0.5), p99Ms: at(0.99) };
};
const results: Array<Record<string, string | number>> = [];

/** The stored rows of the first `limit` chunks, in pages. */
function* storedRows(): Generator<Array<{ rowid: number; id: string; document_id: string; terms: string }>> {
  const page = database.prepare('SELECT rowid, id, document_id, terms FROM chunks WHERE knowledge_base_id = ? AND rowid > ? ORDER BY rowid LIMIT ?');
  let read = 0;
  for (let after = -1; read < limit;) {
    const rows = page.all(knowledgeBaseId, after, Math.min(2000, limit - read)) as Array<{ rowid: number; id: string; document_id: string; terms: string }>;
    if (rows.length === 0) return;
    read += rows.length;
    yield rows;
    after = (rows.at(-1) as { rowid: number }).rowid;
  }
}

// (a) The segment.
{
  const rssBefore = process.memoryUsage().rss;
  const started = performance.now();
  const builder = new LexicalSegmentBuilder();
  for (const rows of storedRows()) for (const row of rows) builder.add({ id: row.id, documentId: row.document_id, terms: row.terms });
  const bytes = builder.finish(0);
  const index = new SegmentedBm25Index({}, new LexicalSegment(bytes));
  const buildMs = performance.now() - started;
  const times: number[] = [];
  for (const query of queries) {
    const begun = performance.now();
    index.search(query, 10, defaultDocumentWeight);
    times.push(performance.now() - begun);
  }
  (globalThis as { gc?: () => void }).gc?.();
  results.push({
    engine: 'segment (ours)',
    buildMs: Math.round(buildMs),
    bytes: bytes.byteLength,
    rssAddedBytes: process.memoryUsage().rss - rssBefore,
    ...percentiles(times),
  });
}

// (b) FTS5 fed our terms.
{
  const workDirectory = await mkdtemp(path.join(tmpdir(), 'passage-fts5-'));
  const fts = new Database(path.join(workDirectory, 'fts.sqlite'));
  fts.pragma('journal_mode = WAL');
  fts.exec(`CREATE VIRTUAL TABLE chunk_terms USING fts5(body, tokenize = 'ascii')`);
  const tokens = new Map<string, string>();
  const token = (term: string) => {
    let value = tokens.get(term);
    if (value === undefined) tokens.set(term, (value = `t${tokens.size}`));
    return value;
  };
  const rssBefore = process.memoryUsage().rss;
  const started = performance.now();
  const insert = fts.prepare('INSERT INTO chunk_terms (rowid, body) VALUES (?, ?)');
  for (const rows of storedRows()) {
    fts.transaction(() => {
      for (const row of rows) {
        const terms = JSON.parse(row.terms) as Record<string, number>;
        const body: string[] = [];
        for (const term in terms) for (let count = 0; count < (terms[term] as number); count += 1) body.push(token(term));
        insert.run(row.rowid, body.join(' '));
      }
    })();
  }
  const buildMs = performance.now() - started;
  const query = fts.prepare('SELECT rowid, bm25(chunk_terms) AS score FROM chunk_terms WHERE chunk_terms MATCH ? ORDER BY rank LIMIT 10');
  const times: number[] = [];
  for (const terms of queries) {
    const expression = Object.keys(terms)
      .filter((term) => tokens.has(term))
      .map((term) => tokens.get(term) as string)
      .join(' OR ');
    const begun = performance.now();
    if (expression !== '') query.all(expression);
    times.push(performance.now() - begun);
  }
  fts.pragma('wal_checkpoint(TRUNCATE)');
  results.push({
    engine: 'SQLite FTS5 (our terms, its bm25)',
    buildMs: Math.round(buildMs),
    bytes: (await stat(path.join(workDirectory, 'fts.sqlite'))).size,
    rssAddedBytes: process.memoryUsage().rss - rssBefore,
    ...percentiles(times),
  });
  fts.close();
  await rm(workDirectory, { recursive: true, force: true });
}
const chunks = Math.min(
  limit,
  (database.prepare('SELECT COUNT(*) AS count FROM chunks WHERE knowledge_base_id = ?').get(knowledgeBaseId) as { count: number }).count,
);
database.close();
console.log(`${chunks} chunks, ${queries.length} queries of ten words, single query at a time`);
const columns = ['engine', 'buildMs', 'bytes', 'rssAddedBytes', 'p50Ms', 'p99Ms'];
console.log(columns.join(' | '));
for (const row of results) console.log(columns.map((column) => String(row[column])).join(' | '));
if (values.json) console.log(JSON.stringify({ chunks, rows: results }));
