import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { createAnalyzer } from '@passage/retrieval';
import { newDocumentId, newKnowledgeBaseId, seededRandom, type IndexedChunk } from '@passage/spec';
import { SqliteCatalog, SqliteChunkStore, openDatabase } from '@passage/store-sqlite';
import { expectJson, startApiProcess, temporaryDataDirectory, type ApiProcess } from '@passage/testing';

/** Chunks of the seeded knowledge base: enough that loading its index after a start takes a while. */
const documentCount = 250;
const chunksPerDocument = 80;
const wordsPerChunk = 60;

/**
 * Writes a knowledge base of `documentCount` ready documents straight into the data folder's
 * catalog and chunk store (what ingestion would leave, without parsing 20,000 chunks first).
 * Words are drawn from a vocabulary of made-up words, skewed so that some are common; each chunk's
 * terms are the analyzer's terms of its words. Returns the knowledge base and a word of one chunk.
 */
async function seedKnowledgeBase(dataDirectory: string): Promise<{ knowledgeBaseId: string; rareWord: string }> {
  const database = openDatabase({ dataDirectory });
  const catalog = new SqliteCatalog(database);
  const store = new SqliteChunkStore(database);
  const random = seededRandom(17);
  const syllables = ['ka', 'lo', 'mi', 'ru', 'te', 'zo', 'ba', 'ne', 'fi', 'gu', 'pa', 'sh'];
  const vocabulary = Array.from({ length: 5000 }, (_, index) => {
    let word = 'q';
    for (let rest = index; word.length < 2 || rest > 0; rest = Math.floor(rest / syllables.length)) word += syllables[rest % syllables.length] as string;
    return word;
  });
  const analyzer = createAnalyzer();
  const termsOf = new Map(vocabulary.map((word) => [word, analyzer.termFrequencies(word)]));
  const knowledgeBase = await catalog.createKnowledgeBase({
    id: newKnowledgeBaseId(),
    name: 'Large',
    schema: { embeddingModel: null, denseDimensions: null },
  });
  await store.createGeneration(knowledgeBase.id, 1);
  const rareWord = 'qzorbulatrix';
  termsOf.set(rareWord, analyzer.termFrequencies(rareWord));
  for (let number = 0; number < documentCount; number += 1) {
    const id = newDocumentId();
    const name = `seeded-${number}.txt`;
    await catalog.createDocuments([
      { id, knowledgeBaseId: knowledgeBase.id, name, bytes: 0, contentHash: createHash('sha256').update(name).digest('hex'), mediaType: 'text/plain' },
    ]);
    const chunks: IndexedChunk[] = [];
    for (let ordinal = 0; ordinal < chunksPerDocument; ordinal += 1) {
      const words = Array.from({ length: wordsPerChunk }, () => vocabulary[Math.floor(vocabulary.length * random() ** 2)] as string);
      if (number === documentCount - 1 && ordinal === 7) words.push(rareWord);
      const terms: Record<string, number> = {};
      for (const word of words) for (const [term, count] of Object.entries(termsOf.get(word) ?? {})) terms[term] = (terms[term] ?? 0) + count;
      const text = words.join(' ');
      chunks.push({
        id: `${id}-1-${ordinal}`,
        knowledgeBaseId: knowledgeBase.id,
        documentId: id,
        documentName: name,
        generation: 1,
        ordinal,
        page: 1,
        start: 0,
        end: text.length,
        text,
        tokens: words.length,
        terms,
      });
    }
    await store.replaceDocumentChunks({ knowledgeBaseId: knowledgeBase.id, generation: 1, documentId: id }, chunks);
    await catalog.claimDocument(id);
    await catalog.completeDocument(id, chunks.length);
    await catalog.recordDocumentGeneration(id, 1, chunks.length);
  }
  database.close();
  return { knowledgeBaseId: knowledgeBase.id, rareWord };
}

/**
 * Issue 17: the first search after a start loads the knowledge base's index (20,000 chunks here:
 * the lexical segment is built in a worker thread from the stored terms). That search is answered,
 * and meanwhile the API keeps answering `/healthz`: the load does not hold the event loop.
 */
describe('a search during the cold start of a large knowledge base', () => {
  let api: ApiProcess;
  let seeded: { knowledgeBaseId: string; rareWord: string };

  before(async () => {
    const dataDirectory = await temporaryDataDirectory('passage-cold-');
    seeded = await seedKnowledgeBase(dataDirectory);
    api = await startApiProcess({ dataDirectory });
  });
  after(async () => {
    await api?.stop();
    await rm(api.dataDirectory, { recursive: true, force: true });
  });

  it('is answered, and /healthz answers every few milliseconds while the index loads', { timeout: 600_000 }, async (context) => {
    const started = performance.now();
    let searchEnded = false;
    const searching = fetch(`${api.url}/v1/knowledge-bases/${seeded.knowledgeBaseId}/search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: seeded.rareWord, topK: 3 }),
    }).finally(() => (searchEnded = true));
    const healthLatencies: number[] = [];
    while (!searchEnded) {
      const asked = performance.now();
      const health = await fetch(`${api.url}/healthz`);
      assert.equal(health.status, 200);
      await health.arrayBuffer();
      if (!searchEnded) healthLatencies.push(performance.now() - asked);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const searchMs = performance.now() - started;
    const answer = await expectJson<{ data: Array<{ text: string; documentName: string }> }>(await searching, 200);
    assert.ok(answer.data.length >= 1);
    assert.match(answer.data[0]?.text ?? '', new RegExp(seeded.rareWord));
    assert.equal(answer.data[0]?.documentName, `seeded-${documentCount - 1}.txt`);
    const slowest = Math.max(...healthLatencies);
    context.diagnostic(`cold search ${Math.round(searchMs)} ms; ${healthLatencies.length} health answers meanwhile, the slowest ${Math.round(slowest)} ms`);
    // The load took long enough to matter, and health answers kept coming through it, none held for long.
    assert.ok(healthLatencies.length >= 5, `only ${healthLatencies.length} health answers during a ${Math.round(searchMs)} ms cold search`);
    assert.ok(slowest < searchMs / 2, `a health answer took ${Math.round(slowest)} ms of the ${Math.round(searchMs)} ms cold search`);
    // Warm, the same search is quick and gives the same first hit.
    const warm = await expectJson<{ data: Array<{ text: string }> }>(
      await fetch(`${api.url}/v1/knowledge-bases/${seeded.knowledgeBaseId}/search`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: seeded.rareWord, topK: 3 }),
      }),
      200,
    );
    assert.equal(warm.data[0]?.text, answer.data[0]?.text);
  });
});
