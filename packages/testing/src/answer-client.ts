import assert from 'node:assert/strict';
import { expectJson, createKnowledgeBase, upload, waitUntilEnded } from './api-client.js';
import type { ApiProcess } from './api-process.js';

/** Creates a knowledge base from text documents (name → text) and waits until all are ready. */
export async function createTextKnowledgeBase(
  api: ApiProcess,
  name: string,
  documents: Record<string, string>,
): Promise<{ knowledgeBaseId: string; documentIds: Record<string, string> }> {
  const knowledgeBaseId = await createKnowledgeBase(api, name);
  const accepted = await expectJson<{ data: Array<{ id: string; name: string }> }>(
    await upload(
      api,
      knowledgeBaseId,
      Object.entries(documents).map(([fileName, text]) => ({ name: fileName, bytes: new TextEncoder().encode(text), type: 'text/plain' })),
    ),
    202,
  );
  const documentIds: Record<string, string> = {};
  for (const document of accepted.data) {
    const ended = await waitUntilEnded(api, knowledgeBaseId, document.id);
    assert.equal(ended.status, 'ready', JSON.stringify(ended));
    documentIds[document.name] = document.id;
  }
  return { knowledgeBaseId, documentIds };
}

/** POSTs a question to `/ask` (streamed unless the body says otherwise). */
export function ask(api: ApiProcess, knowledgeBaseId: string, body: Record<string, unknown>, signal?: AbortSignal): Promise<Response> {
  return fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/ask`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ stream: true, ...body }),
    ...(signal === undefined ? {} : { signal }),
  });
}
