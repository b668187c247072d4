import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { chunkId, type IndexedChunk } from '@passage/spec';
import { describeChunkIndexContract, qdrantOpenApiValidator, startFakeQdrantServer, type FakeQdrantServer } from '@passage/testing';
import { QdrantChunkIndex, type QdrantChunkIndexOptions } from './qdrant-chunk-index.js';
import { querySparseVector } from './sparse-vector.js';

function chunk(
  knowledgeBaseId: string,
  documentId: string,
  ordinal: number,
  terms: Record<string, number>,
  options: { vector?: number[]; generation?: number } = {},
): IndexedChunk {
  const text = Object.keys(terms).join(' ');
  const generation = options.generation ?? 1;
  return {
    id: chunkId(documentId, generation, ordinal),
    knowledgeBaseId,
    documentId,
    documentName: `${documentId}.pdf`,
    generation,
    ordinal,
    page: ordinal + 1,
    start: 0,
    end: text.length,
    text,
    tokens: 3,
    terms,
    ...(options.vector === undefined ? {} : { vector: options.vector }),
  };
}

describeChunkIndexContract('Qdrant adapter against the fake server (OpenAPI 1.19-validated)', async () => {
  const fake = await startFakeQdrantServer();
  const options: QdrantChunkIndexOptions = { url: fake.url, collectionPrefix: 'contract' };
  const handles = [new QdrantChunkIndex(options)];
  return {
    index: handles[0]!,
    openAnother: async () => {
      const other = new QdrantChunkIndex(options);
      handles.push(other);
      return other;
    },
    cleanup: async () => {
      for (const handle of handles) await handle.close();
      await fake.close();
      assert.ok(fake.exchanges.length > 0);
      assert.deepEqual(fake.problems(), [], 'every request and answer validates against the OpenAPI schema');
    },
  };
});

const qdrantUrl = process.env.QDRANT_URL;
if (qdrantUrl !== undefined && qdrantUrl !== '') {
  // Only with a Qdrant server (README: docker run -p 6333:6333 qdrant/qdrant:v1.19.0).
  describeChunkIndexContract(`Qdrant adapter against the server at ${qdrantUrl}`, async () => {
    const options: QdrantChunkIndexOptions = {
      url: qdrantUrl,
      collectionPrefix: `test_${randomUUID().slice(0, 8)}`,
      ...(process.env.QDRANT_API_KEY ? { apiKey: process.env.QDRANT_API_KEY } : {}),
    };
    const handles = [new QdrantChunkIndex(options)];
    return {
      index: handles[0]!,
      openAnother: async () => {
        const other = new QdrantChunkIndex(options);
        handles.push(other);
        return other;
      },
      cleanup: async () => {
        for (const knowledgeBaseId of ['kb1', 'kb2']) await handles[0]!.deleteKnowledgeBase(knowledgeBaseId);
        for (const handle of handles) await handle.close();
      },
    };
  });
}

describe('Qdrant adapter requests', () => {
  let fake: FakeQdrantServer;
  before(async () => {
    fake = await startFakeQdrantServer();
  });
  after(async () => {
    await fake.close();
    assert.deepEqual(fake.problems(), []);
  });

  const ofOperation = (operationId: string) => fake.exchanges.filter((exchange) => exchange.operationId === operationId);

  it('creates collections with the shards, replicas and write consistency it was given, the consistency never above the replicas', async () => {
    const index = new QdrantChunkIndex({ url: fake.url, collectionPrefix: 'spread', shards: 3, replicas: 2, writeConsistency: 5 });
    await index.createGeneration({ knowledgeBaseId: 'kb_s', generation: 1 }, { embeddingModel: null, denseDimensions: null });
    const creation = ofOperation('create_collection').find((exchange) => exchange.path === '/collections/spread_kb_s_g1');
    assert.deepEqual(creation?.body, { sparse_vectors: { bm25: { modifier: 'idf' } }, shard_number: 3, replication_factor: 2, write_consistency_factor: 2 });
    await index.deleteKnowledgeBase('kb_s');
    await index.close();
  });

  it('creates a generation with the bm25 (idf) and dense vectors of its schema, payload indexes and, for generation 1, the alias', async () => {
    const index = new QdrantChunkIndex({ url: fake.url, collectionPrefix: 'shape' });
    await index.createGeneration({ knowledgeBaseId: 'kb_a', generation: 1 }, { embeddingModel: 'tiny', denseDimensions: 3 });
    await index.createGeneration({ knowledgeBaseId: 'kb_a', generation: 1 }, { embeddingModel: 'tiny', denseDimensions: 3 });
    const creations = ofOperation('create_collection').filter((exchange) => exchange.path.startsWith('/collections/shape_'));
    assert.deepEqual(
      creations.map((exchange) => exchange.path),
      ['/collections/shape_kb_a_g1'],
      'created once: the second call found it',
    );
    assert.deepEqual(creations[0]?.body, {
      sparse_vectors: { bm25: { modifier: 'idf' } },
      vectors: { dense: { size: 3, distance: 'Cosine' } },
      shard_number: 1,
      replication_factor: 1,
      write_consistency_factor: 1,
    });
    const indexed = ofOperation('create_field_index').map((exchange) => exchange.body);
    assert.deepEqual(indexed.slice(0, 2), [
      { field_name: 'documentId', field_schema: 'keyword' },
      { field_name: 'ordinal', field_schema: 'integer' },
    ]);
    assert.deepEqual(fake.aliases(), { shape_kb_a: 'shape_kb_a_g1' });
    await assert.rejects(
      index.createGeneration({ knowledgeBaseId: 'kb_a', generation: 1 }, { embeddingModel: 'other', denseDimensions: 5 }),
      { code: 'internal_error' },
      'an existing generation with another vector size is not taken for this one',
    );

    await index.upsertDocumentChunks({ knowledgeBaseId: 'kb_a', generation: 1, documentId: 'd1' }, [
      chunk('kb_a', 'd1', 0, { trace: 2, tree: 1 }, { vector: [1, 0, 0] }),
    ]);
    const upsert = ofOperation('upsert_points').at(-1);
    assert.match(upsert?.path ?? '', /[?&]wait=true/);
    const point = (
      upsert?.body as { points: Array<{ vector: { bm25: { indices: number[]; values: number[] }; dense: number[] }; payload: Record<string, unknown> }> }
    ).points[0]!;
    assert.equal(point.vector.bm25.indices.length, 2);
    assert.deepEqual(point.vector.dense, [1, 0, 0]);
    assert.deepEqual(Object.keys(point.payload).sort(), [
      'documentId',
      'documentName',
      'end',
      'generation',
      'knowledgeBaseId',
      'ordinal',
      'page',
      'start',
      'text',
      'tokens',
    ]);
  });

  it("searches the requested generation's collection: sparse alone, dense alone, and hybrid with prefetches fused by dbsf, or by RRF when configured or asked", async () => {
    const index = new QdrantChunkIndex({ url: fake.url, collectionPrefix: 'modes', fusion: 'rrf', rrfK: 60 });
    const plain = new QdrantChunkIndex({ url: fake.url, collectionPrefix: 'modes' });
    await index.createGeneration({ knowledgeBaseId: 'kb_m', generation: 1 }, { embeddingModel: 'tiny', denseDimensions: 2 });
    const target = { knowledgeBaseId: 'kb_m', generation: 1, documentId: 'd1' };
    await index.upsertDocumentChunks(target, [
      chunk('kb_m', 'd1', 0, { apple: 1 }, { vector: [1, 0] }),
      chunk('kb_m', 'd1', 1, { pear: 1 }, { vector: [0, 1] }),
    ]);
    const before = ofOperation('query_points').length;
    const lookupsBefore = ofOperation('get_collection').length;

    const lexical = await index.search({ knowledgeBaseId: 'kb_m', generation: 1, terms: { apple: 1 }, mode: 'lexical', topK: 5 });
    assert.deepEqual(
      lexical.map((hit) => hit.chunk.ordinal),
      [0],
    );
    const dense = await index.search({ knowledgeBaseId: 'kb_m', generation: 1, terms: { apple: 1 }, vector: [0, 1], mode: 'dense', topK: 1 });
    assert.deepEqual(
      dense.map((hit) => hit.chunk.ordinal),
      [1],
    );
    const hybrid = await index.search({ knowledgeBaseId: 'kb_m', generation: 1, terms: { apple: 1 }, vector: [0.1, 1], mode: 'hybrid', topK: 5 });
    assert.deepEqual(new Set(hybrid.map((hit) => hit.chunk.ordinal)), new Set([0, 1]));
    assert.ok((hybrid[0]?.chunk.text.length ?? 0) > 0);
    assert.equal(ofOperation('get_collection').length, lookupsBefore, 'the creator knows the vector size without asking');
    await plain.search({ knowledgeBaseId: 'kb_m', generation: 1, terms: { apple: 1 }, vector: [1, 0], mode: 'hybrid', topK: 5 });
    await plain.search({ knowledgeBaseId: 'kb_m', generation: 1, terms: { apple: 1 }, vector: [1, 0], mode: 'hybrid', topK: 5 });
    assert.equal(ofOperation('get_collection').length, lookupsBefore + 1, 'another process reads the vector size once');
    await plain.search({ knowledgeBaseId: 'kb_m', generation: 1, terms: { apple: 1 }, vector: [1, 0], mode: 'hybrid', fusion: 'rrf', topK: 5 });

    const sent = ofOperation('query_points').slice(before);
    const apple = querySparseVector({ apple: 1 });
    assert.ok(
      sent.every((exchange) => exchange.path === '/collections/modes_kb_m_g1/points/query'),
      "by the generation's collection, not the alias",
    );
    const fused = (vector: number[], query: unknown) => ({
      prefetch: [
        { query: apple, using: 'bm25', limit: 100 },
        { query: vector, using: 'dense', limit: 100 },
      ],
      query,
      limit: 5,
      with_payload: true,
    });
    assert.deepEqual(
      sent.map((exchange) => exchange.body),
      [
        { query: apple, using: 'bm25', limit: 5, with_payload: true },
        { query: [0, 1], using: 'dense', limit: 1, with_payload: true },
        fused([0.1, 1], { rrf: { k: 60 } }),
        fused([1, 0], { fusion: 'dbsf' }),
        fused([1, 0], { fusion: 'dbsf' }),
        fused([1, 0], { fusion: 'rrf' }),
      ],
    );
  });

  it('writes a new generation without moving the alias, moves it in one request on activation, and deletes a document from every generation', async () => {
    const index = new QdrantChunkIndex({ url: fake.url, collectionPrefix: 'gen' });
    const lexicalSchema = { embeddingModel: null, denseDimensions: null };
    await index.createGeneration({ knowledgeBaseId: 'kb_g', generation: 1 }, lexicalSchema);
    await index.createGeneration({ knowledgeBaseId: 'kb_g', generation: 2 }, { embeddingModel: 'tiny', denseDimensions: 2 });
    await index.upsertDocumentChunks({ knowledgeBaseId: 'kb_g', generation: 1, documentId: 'd1' }, [chunk('kb_g', 'd1', 0, { old: 1 })]);
    await index.upsertDocumentChunks({ knowledgeBaseId: 'kb_g', generation: 2, documentId: 'd1' }, [
      chunk('kb_g', 'd1', 0, { new: 1 }, { generation: 2, vector: [1, 0] }),
      chunk('kb_g', 'd1', 1, { newer: 1 }, { generation: 2, vector: [0, 1] }),
    ]);
    assert.deepEqual(fake.aliases().gen_kb_g, 'gen_kb_g_g1', 'the alias still points at generation 1');
    assert.equal(await index.countChunks('kb_g', 1), 1);
    assert.equal(await index.countChunks('kb_g', 2, 'd1'), 2);
    assert.equal((await index.search({ knowledgeBaseId: 'kb_g', generation: 1, terms: { new: 1 }, mode: 'lexical', topK: 5 })).length, 0);

    const aliasChangesBefore = ofOperation('update_aliases').length;
    await index.activateGeneration({ knowledgeBaseId: 'kb_g', generation: 2 });
    const aliasChanges = ofOperation('update_aliases').slice(aliasChangesBefore);
    assert.deepEqual(
      aliasChanges.map((exchange) => exchange.body),
      [{ actions: [{ delete_alias: { alias_name: 'gen_kb_g' } }, { create_alias: { alias_name: 'gen_kb_g', collection_name: 'gen_kb_g_g2' } }] }],
    );
    assert.equal(fake.aliases().gen_kb_g, 'gen_kb_g_g2');
    await assert.rejects(index.activateGeneration({ knowledgeBaseId: 'kb_g', generation: 9 }), { code: 'generation_not_found' });
    assert.equal(fake.aliases().gen_kb_g, 'gen_kb_g_g2', 'a refused activation leaves the alias where it was');

    const deletesBefore = ofOperation('delete_points').length;
    await index.deleteDocument('kb_g', 'd1');
    const deletes = ofOperation('delete_points').slice(deletesBefore);
    assert.deepEqual(
      deletes.map((exchange) => exchange.path),
      ['/collections/gen_kb_g_g1/points/delete?wait=true', '/collections/gen_kb_g_g2/points/delete?wait=true'],
    );
    assert.deepEqual(deletes[0]?.body, { filter: { must: [{ key: 'documentId', match: { value: 'd1' } }] } });
    assert.equal(await index.countChunks('kb_g', 1), 0);
    assert.equal(await index.countChunks('kb_g', 2), 0);

    await index.deleteKnowledgeBase('kb_g');
    assert.deepEqual(
      fake.collectionNames().filter((name) => name.startsWith('gen_')),
      [],
    );
    assert.equal(fake.aliases().gen_kb_g, undefined);
  });

  it("refuses dense and hybrid searches of a lexical generation, and vectors that do not fit the generation's size", async () => {
    const index = new QdrantChunkIndex({ url: fake.url, collectionPrefix: 'refuse' });
    await index.createGeneration({ knowledgeBaseId: 'kb_r', generation: 1 }, { embeddingModel: null, denseDimensions: null });
    await index.createGeneration({ knowledgeBaseId: 'kb_r', generation: 2 }, { embeddingModel: 'tiny', denseDimensions: 4 });
    await assert.rejects(index.search({ knowledgeBaseId: 'kb_r', generation: 1, terms: { a: 1 }, vector: [1], mode: 'hybrid', topK: 3 }), {
      code: 'invalid_request',
    });
    const other = new QdrantChunkIndex({ url: fake.url, collectionPrefix: 'refuse' });
    for (const writer of [index, other]) {
      await assert.rejects(
        writer.upsertDocumentChunks({ knowledgeBaseId: 'kb_r', generation: 2, documentId: 'd1' }, [
          chunk('kb_r', 'd1', 0, { a: 1 }, { generation: 2, vector: [1, 2] }),
        ]),
        { code: 'internal_error' },
      );
    }
    await other.upsertDocumentChunks({ knowledgeBaseId: 'kb_r', generation: 2, documentId: 'd1' }, [
      chunk('kb_r', 'd1', 0, { a: 1 }, { generation: 2, vector: [1, 2, 3, 4] }),
    ]);
    assert.equal(await index.countChunks('kb_r', 2), 1, 'a process that did not create the generation read its size');
  });

  it('never creates a collection or alias implicitly: a writer that outlives its knowledge base gets generation_not_found', async () => {
    const writer = new QdrantChunkIndex({ url: fake.url, collectionPrefix: 'late' });
    const api = new QdrantChunkIndex({ url: fake.url, collectionPrefix: 'late' });
    await api.createGeneration({ knowledgeBaseId: 'kb_l', generation: 1 }, { embeddingModel: null, denseDimensions: null });
    await writer.upsertDocumentChunks({ knowledgeBaseId: 'kb_l', generation: 1, documentId: 'd1' }, [chunk('kb_l', 'd1', 0, { first: 1 })]);
    await api.deleteKnowledgeBase('kb_l');
    await assert.rejects(writer.upsertDocumentChunks({ knowledgeBaseId: 'kb_l', generation: 1, documentId: 'd2' }, [chunk('kb_l', 'd2', 0, { late: 1 })]), {
      code: 'generation_not_found',
    });
    await assert.rejects(writer.search({ knowledgeBaseId: 'kb_l', generation: 1, terms: { late: 1 }, mode: 'lexical', topK: 3 }), {
      code: 'generation_not_found',
    });
    assert.deepEqual(
      fake.collectionNames().filter((name) => name.startsWith('late_')),
      [],
    );
    assert.equal(fake.aliases().late_kb_l, undefined);
    // Deleting what does not exist is not an error.
    assert.equal(await writer.countChunks('kb_l', 1), 0);
    await writer.deleteDocument('kb_l', 'd1');
    await writer.dropGeneration({ knowledgeBaseId: 'kb_l', generation: 1 });
    await writer.deleteKnowledgeBase('kb_l');
  });
});

describe('Qdrant adapter failures', () => {
  it('maps 503 with Retry-After and a refused connection to retryable errors, and another 4xx to a non-retryable one', async () => {
    let status = 503;
    const server = createServer((_request, response) => {
      response.statusCode = status;
      response.setHeader('content-type', 'application/json');
      if (status === 503) response.setHeader('retry-after', '7');
      response.end(JSON.stringify({ status: { error: 'busy' }, time: 0 }));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const index = new QdrantChunkIndex({ url });
      const search = () => index.search({ knowledgeBaseId: 'kb1', generation: 1, terms: { a: 1 }, mode: 'lexical', topK: 3 });
      await assert.rejects(search(), { code: 'service_unavailable', retryable: true, retryAfterSeconds: 7 });
      status = 400;
      await assert.rejects(search(), (error: unknown) => {
        assert.equal((error as { code?: string }).code, 'internal_error');
        assert.equal((error as { retryable?: boolean }).retryable, false);
        assert.match((error as Error).message, /busy/);
        return true;
      });
    } finally {
      server.close();
    }
    const unreachable = new QdrantChunkIndex({ url: 'http://127.0.0.1:1', timeoutMs: 2000 });
    await assert.rejects(unreachable.countChunks('kb1', 1), { code: 'service_unavailable', retryable: true });
  });

  it('stops a request when the caller aborts', async () => {
    let requestArrived: () => void = () => {};
    const arrived = new Promise<void>((resolve) => (requestArrived = resolve));
    // Never answers: only the abort can end the search.
    const server = createServer(() => requestArrived());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const index = new QdrantChunkIndex({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
      const controller = new AbortController();
      const pending = index.search({ knowledgeBaseId: 'kb1', generation: 1, terms: { a: 1 }, mode: 'lexical', topK: 3, signal: controller.signal });
      await arrived;
      controller.abort();
      await assert.rejects(pending, { code: 'aborted' });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

describe('OpenAPI validation of Qdrant requests', () => {
  it('catches what a real server would reject: a misspelt field, a wrong type, a query parameter in the body', async () => {
    const validator = await qdrantOpenApiValidator();
    const url = new URL('http://qdrant/collections/c/points/query');
    assert.deepEqual(validator.validateRequest('POST', url, { query: { indices: [1], values: [1] }, using: 'bm25', limit: 3 }), []);
    assert.equal(validator.validateRequest('POST', url, { query: { indices: [1], values: [1] }, with_payloads: true }).length, 1);
    assert.equal(validator.validateRequest('POST', url, { query: { indices: [-1], values: [1] } }).length, 1);
    assert.equal(validator.validateRequest('POST', url, { limit: 0 }).length, 1);
    const upsert = new URL('http://qdrant/collections/c/points?wait=true');
    assert.deepEqual(validator.validateRequest('PUT', upsert, { points: [{ id: randomUUID(), vector: { bm25: { indices: [3], values: [0.5] } } }] }), []);
    assert.equal(validator.validateRequest('PUT', upsert, { points: [{ id: 'not-a-uuid', vector: [1] }] }).length, 1);
    assert.equal(validator.validateRequest('PUT', upsert, { wait: true, points: [] }).length, 1);
    assert.equal(validator.validateRequest('PUT', new URL('http://qdrant/collections/c/points?wiat=true'), { points: [] }).length, 1);
    assert.equal(validator.validateRequest('POST', new URL('http://qdrant/collections/c/nothing'), {}).length, 1);
  });
});
