import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { newDocumentId, newKnowledgeBaseId, type GenerationSchema } from '@passage/spec';
import { describeCatalogContract, standaloneTestRedis, startRedisCluster, testRedisUrl, uniqueRedisPrefix } from '@passage/testing';
import { RedisCatalog } from './redis-catalog.js';
import { createRedisClient, isClusterClient } from './redis-client.js';
import { deleteKeysWithPrefix } from './redis-keys.js';

const lexical: GenerationSchema = { embeddingModel: null, denseDimensions: null };

const cluster = await startRedisCluster();
after(() => cluster.stop());

// The same tests on the standalone test server (the standalone key layout) and on a Redis Cluster
// of three masters (the hash-tagged layout, catalog-keys.ts).
for (const redis of [standaloneTestRedis, cluster]) {
  describeCatalogContract(`Redis, ${redis.description}`, async () => {
    const { prefix, cleanup } = uniqueRedisPrefix('catalog', redis);
    const catalog = new RedisCatalog({ url: redis.url, cluster: redis.cluster, keyPrefix: prefix });
    return {
      catalog,
      cleanup: async () => {
        await catalog.close();
        await cleanup();
      },
    };
  });

  describe(`Redis catalog on a ${redis.description}`, () => {
    const document = (knowledgeBaseId: string) => ({
      id: newDocumentId(),
      knowledgeBaseId,
      name: 'a.pdf',
      bytes: 1,
      contentHash: 'b'.repeat(64),
      mediaType: null,
    });

    it('is shared by two clients, and counts both claims when they race for one document', async () => {
      const { prefix, cleanup } = uniqueRedisPrefix('catalog-shared', redis);
      const first = new RedisCatalog({ url: redis.url, cluster: redis.cluster, keyPrefix: prefix });
      const second = new RedisCatalog({ url: redis.url, cluster: redis.cluster, keyPrefix: prefix });
      try {
        const knowledgeBase = await first.createKnowledgeBase({ id: newKnowledgeBaseId(), name: 'Shared', schema: lexical });
        const [entry] = await first.createDocuments([document(knowledgeBase.id)]);
        const created = entry!.document;
        assert.equal((await second.getDocument(knowledgeBase.id, created.id))?.status, 'queued');

        const claims = await Promise.all([first.claimDocument(created.id), second.claimDocument(created.id)]);
        // Both may claim (a processing document can be taken over after a crash), but every claim counts.
        assert.deepEqual(claims.map((claim) => claim?.attempts).sort(), [1, 2]);
        assert.deepEqual(
          (await second.listDocumentsByStatus(['processing'])).map((entry) => entry.id),
          [created.id],
        );
        assert.deepEqual(await second.listDocumentsByStatus(['queued']), []);

        await first.updateDocument(created.id, { status: 'ready', chunks: 4, progress: { stage: 'done', done: 4, total: 4 } });
        assert.equal(await second.claimDocument(created.id), null);
        assert.deepEqual(
          (await second.listDocumentsByStatus(['ready'])).map((entry) => entry.chunks),
          [4],
        );
      } finally {
        await first.close();
        await second.close();
        await cleanup();
      }
    });

    it('refuses documents for a knowledge base that does not exist, and keeps nothing of them', async () => {
      const { prefix, cleanup } = uniqueRedisPrefix('catalog-orphan', redis);
      const catalog = new RedisCatalog({ url: redis.url, cluster: redis.cluster, keyPrefix: prefix });
      try {
        await assert.rejects(catalog.createDocuments([document('kb_missing')]), { code: 'knowledge_base_not_found' });
        assert.deepEqual(await catalog.listDocumentsByStatus(['queued']), []);
      } finally {
        await catalog.close();
        await cleanup();
      }
    });

    it('leaves no key behind when a knowledge base is deleted', async () => {
      const { prefix, cleanup } = uniqueRedisPrefix('catalog-keys', redis);
      const catalog = new RedisCatalog({ url: redis.url, cluster: redis.cluster, keyPrefix: prefix });
      try {
        const knowledgeBase = await catalog.createKnowledgeBase({ id: newKnowledgeBaseId(), name: 'Gone', schema: lexical });
        const created = await catalog.createDocuments([document(knowledgeBase.id), { ...document(knowledgeBase.id), contentHash: 'c'.repeat(64) }]);
        const [failed, ready] = created.map((entry) => entry.document.id) as [string, string];
        await catalog.updateDocument(failed, { status: 'failed', error: { code: 'pdf_corrupt', message: 'broken' } });
        await catalog.recordDocumentGeneration(ready, 1, 2);
        await catalog.completeDocument(ready, 2);
        await catalog.beginReindex(knowledgeBase.id, { owner: 'test', leaseMs: 60_000, schema: lexical });
        await catalog.recordDocumentGeneration(ready, 2, 2);
        assert.equal(await catalog.deleteKnowledgeBase(knowledgeBase.id), true);
        assert.equal(await cleanup(), 0, 'every key of the knowledge base was removed with it');
      } finally {
        await catalog.close();
        await cleanup();
      }
    });

    it('records the same bytes again once the document that held them was deleted', async () => {
      const { prefix, cleanup } = uniqueRedisPrefix('catalog-rehash', redis);
      const catalog = new RedisCatalog({ url: redis.url, cluster: redis.cluster, keyPrefix: prefix });
      try {
        const knowledgeBase = await catalog.createKnowledgeBase({ id: newKnowledgeBaseId(), name: 'Again', schema: lexical });
        const [first] = await catalog.createDocuments([document(knowledgeBase.id)]);
        await catalog.deleteDocument(knowledgeBase.id, first!.document.id);
        const [second] = await catalog.createDocuments([document(knowledgeBase.id)]);
        assert.equal(second?.duplicate, false);
        assert.notEqual(second?.document.id, first!.document.id);
        const [third] = await catalog.createDocuments([document(knowledgeBase.id)]);
        assert.equal(third?.duplicate, true, 'the index now points at the second upload');
        assert.equal(third?.document.id, second?.document.id);
      } finally {
        await catalog.close();
        await cleanup();
      }
    });
  });
}

describe('Redis catalog', () => {
  it('reports an unreachable Redis as a retryable service_unavailable error', async () => {
    const catalog = new RedisCatalog({ url: 'redis://127.0.0.1:1', keyPrefix: 'unreachable' });
    try {
      await assert.rejects(catalog.getKnowledgeBase('kb_x'), (error: unknown) => {
        assert.equal((error as { code?: string }).code, 'service_unavailable');
        assert.equal((error as { retryable?: boolean }).retryable, true);
        return true;
      });
    } finally {
      await catalog.close();
    }
  });

  it('deletes the keys under a prefix and no other, and refuses an empty prefix', async () => {
    const { prefix, cleanup } = uniqueRedisPrefix('prefix-delete');
    const client = new Redis(testRedisUrl);
    try {
      await client.set(`${prefix}:one`, '1');
      await client.hset(`${prefix}:two`, 'field', '2');
      // A key that only starts like the prefix: the prefix is taken literally, and glob characters are escaped.
      await client.set(`${prefix}-sibling:*`, '3');
      assert.equal(await deleteKeysWithPrefix({ url: testRedisUrl, prefix: `${prefix}:` }), 2);
      assert.equal(await client.exists(`${prefix}:one`, `${prefix}:two`), 0);
      assert.equal(await client.get(`${prefix}-sibling:*`), '3');
      await assert.rejects(deleteKeysWithPrefix({ url: testRedisUrl, prefix: '' }), RangeError);
    } finally {
      await client.del(`${prefix}-sibling:*`);
      await client.quit();
      await cleanup();
    }
  });

  it(`deletes the keys under a prefix on every master of a ${cluster.description}`, async () => {
    const { prefix } = uniqueRedisPrefix('prefix-delete-cluster', cluster);
    const client = createRedisClient({ url: cluster.url, cluster: true, connectionName: 'test' });
    assert.ok(isClusterClient(client));
    try {
      // Forty keys spread over the slots, hence over the three masters.
      await Promise.all(Array.from({ length: 40 }, (_, position) => client.set(`${prefix}:${position}`, '1')));
      const perMaster = await Promise.all(client.nodes('master').map((node) => node.keys(`${prefix}:*`)));
      assert.ok(
        perMaster.every((keys) => keys.length > 0),
        `keys on every master: ${perMaster.map((keys) => keys.length).join(', ')}`,
      );
      assert.equal(await deleteKeysWithPrefix({ url: cluster.url, cluster: true, prefix: `${prefix}:` }), 40);
      assert.equal(await client.exists(`${prefix}:0`), 0);
    } finally {
      client.disconnect();
    }
  });
});
