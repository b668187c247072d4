import assert from 'node:assert/strict';
import type { ApiProcess } from './api-process.js';
import { createKnowledgeBase, expectJson, upload, waitUntilEnded } from './api-client.js';

/** The chunks an uninterrupted ingestion makes of `file`, in a knowledge base of its own: what a resumed one must match. */
export async function uninterruptedChunkCount(api: ApiProcess, file: { name: string; bytes: Uint8Array }, timeoutMs: number): Promise<number | null> {
  const control = await createKnowledgeBase(api, 'Control');
  const accepted = await expectJson<{ data: Array<{ id: string }> }>(await upload(api, control, [file]), 202);
  const document = await waitUntilEnded(api, control, accepted.data[0]!.id, timeoutMs);
  assert.equal(document.status, 'ready', JSON.stringify(document));
  return document.chunks;
}

/** Searches `query` and asserts that it finds several chunks, none of them twice (by id, or by text within a document). */
export async function assertNoChunkTwice(api: ApiProcess, knowledgeBaseId: string, query: string): Promise<void> {
  const hits = await expectJson<{ data: Array<{ chunkId: string; documentId: string; text: string }> }>(
    await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, topK: 50 }),
    }),
    200,
  );
  assert.ok(hits.data.length > 5, `${hits.data.length} hits`);
  assert.equal(new Set(hits.data.map((hit) => hit.chunkId)).size, hits.data.length);
  assert.equal(new Set(hits.data.map((hit) => `${hit.documentId}\u0000${hit.text}`)).size, hits.data.length);
}
