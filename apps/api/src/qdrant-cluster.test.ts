/**
 * The scaled mode on a real Qdrant cluster: three Qdrant processes in Qdrant's distributed mode on
 * loopback ports, collections made with QDRANT_SHARDS=3 and QDRANT_REPLICAS=2 (every shard on two
 * peers). One peer that the API does not talk to is killed with SIGKILL while searches run in a
 * loop and documents are being ingested. Needs a `qdrant` binary (QDRANT_BIN or PATH): the test
 * runner leaves this file out without one and says so.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createKnowledgeBase,
  distributedDeployment,
  expectJson,
  generateText,
  qdrantBinary,
  startQdrantCluster,
  upload,
  waitUntilEnded,
  type Deployment,
  type QdrantServers,
} from '@passage/testing';

const binary = qdrantBinary();

interface SearchHits {
  data: Array<{ documentId: string; text: string }>;
}

/** Made-up names, one per document, so that each document's own sentence finds it and no other. */
const places = ['amberwick', 'brindlemoor', 'corvanthe', 'dellowisp', 'emberquay', 'fenwhistle', 'gorsethane', 'hollowmere', 'ivorandel', 'jesterholm'];

/** A text document of a few kilobytes holding a sentence found in no other document. */
function documentWith(number: number): { name: string; bytes: Uint8Array; phrase: string } {
  const place = places[number]!;
  const phrase = `The keeper of the ${place} lighthouse logged the ${place} storms`;
  const filler = [...generateText(6_000, { seed: number + 100 })].join('');
  return { name: `keeper-${number}.txt`, bytes: new TextEncoder().encode(`${phrase}.\n\n${filler}`), phrase };
}

describe(`Qdrant cluster of 3 peers (${binary ?? 'no qdrant binary'}), 3 shards with 2 replicas each`, () => {
  let cluster: QdrantServers | undefined;
  let deployment: Deployment | undefined;

  before(async () => {
    assert.ok(binary !== null, 'this test needs a qdrant binary: set QDRANT_BIN or put qdrant on PATH');
    cluster = await startQdrantCluster(binary, 3);
    deployment = await distributedDeployment({
      workers: 1,
      qdrantUrl: cluster.peers[0]!.url,
      env: { QDRANT_SHARDS: '3', QDRANT_REPLICAS: '2', QDRANT_WRITE_CONSISTENCY: '1' },
    })();
  });
  after(async () => {
    await deployment?.stop();
    await cluster?.stop();
  });

  it('keeps answering searches while a peer is killed during an ingestion, and loses no accepted document', async (context) => {
    const { api, env } = deployment!;
    const peers = cluster!.peers;
    const knowledgeBaseId = await createKnowledgeBase(api, 'Replicated');
    const search = async (query: string): Promise<SearchHits> => {
      const response = await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/search`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query, topK: 3 }),
      });
      return expectJson<SearchHits>(response, 200);
    };

    const firstBatch = Array.from({ length: 4 }, (_, number) => documentWith(number));
    const firstAccepted = await expectJson<{ data: Array<{ id: string }> }>(await upload(api, knowledgeBaseId, firstBatch), 202);
    for (const { id } of firstAccepted.data) assert.equal((await waitUntilEnded(api, knowledgeBaseId, id, 120_000)).status, 'ready');

    // The collection is spread as configured: three shards, each on two of the three peers.
    const collection = `${env.QDRANT_COLLECTION_PREFIX}_${knowledgeBaseId}_g1`;
    const layout = await expectJson<{
      result: { local_shards: Array<{ shard_id: number }>; remote_shards: Array<{ shard_id: number; peer_id: number }> };
    }>(await fetch(`${peers[0]!.url}/collections/${collection}/cluster`), 200);
    const replicas = [...layout.result.local_shards, ...layout.result.remote_shards];
    assert.equal(replicas.length, 6, JSON.stringify(layout.result));
    assert.deepEqual([...new Set(replicas.map((replica) => replica.shard_id))].sort(), [0, 1, 2]);

    // Searches in a loop from here to the end: every one must answer and find the known phrase.
    const known = firstBatch[0]!;
    const failures: string[] = [];
    let searches = 0;
    let searching = true;
    const loop = (async () => {
      while (searching) {
        try {
          const hits = await search(known.phrase);
          if (hits.data[0]?.documentId !== firstAccepted.data[0]!.id) failures.push(`search ${searches}: top hit ${JSON.stringify(hits.data[0])}`);
        } catch (error) {
          failures.push(`search ${searches}: ${String(error)}`);
        }
        searches += 1;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();

    const secondBatch = Array.from({ length: 6 }, (_, number) => documentWith(number + 4));
    const secondAccepted = await expectJson<{ data: Array<{ id: string }> }>(await upload(api, knowledgeBaseId, secondBatch), 202);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await peers[2]!.kill();
    const searchesAtKill = searches;
    for (const { id } of secondAccepted.data) {
      const ended = await waitUntilEnded(api, knowledgeBaseId, id, 180_000);
      assert.equal(ended.status, 'ready', JSON.stringify(ended));
    }
    // Let the loop run on a little with the peer gone for good.
    const target = searches + 20;
    while (searches < target) await new Promise((resolve) => setTimeout(resolve, 50));
    searching = false;
    await loop;
    assert.deepEqual(failures, [], `${failures.length} of ${searches} searches failed`);
    assert.ok(searches - searchesAtKill >= 20, `searches after the kill: ${searches - searchesAtKill}`);
    context.diagnostic(`${searches} searches answered, ${searches - searchesAtKill} of them after peer 3 was killed`);

    // No accepted document lost: each one's own sentence finds it first.
    const all = [...firstBatch, ...secondBatch];
    const ids = [...firstAccepted.data, ...secondAccepted.data].map((document) => document.id);
    for (const [position, document] of all.entries()) {
      const hits = await search(document.phrase);
      assert.equal(hits.data[0]?.documentId, ids[position], `${document.name}: ${JSON.stringify(hits.data[0])}`);
    }
  });
});
