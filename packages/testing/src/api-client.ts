import assert from 'node:assert/strict';
import type { ApiProcess } from './api-process.js';
import { waitFor } from './api-process.js';

/** Small HTTP helpers for end-to-end tests of the API. */
export interface DocumentView {
  id: string;
  name: string;
  status: string;
  pages: number | null;
  chunks: number | null;
  progress: { stage: string; done: number; total: number };
  error?: { code: string; message: string };
}

export async function expectJson<T>(response: Response, status: number): Promise<T> {
  const text = await response.text();
  assert.equal(response.status, status, `expected HTTP ${status}, got ${response.status}: ${text}`);
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

export async function createKnowledgeBase(api: ApiProcess, name: string): Promise<string> {
  const created = await expectJson<{ id: string; name: string; createdAt: string }>(
    await fetch(`${api.url}/v1/knowledge-bases`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) }),
    201,
  );
  assert.equal(created.name, name);
  return created.id;
}

export async function upload(api: ApiProcess, knowledgeBaseId: string, files: Array<{ name: string; bytes: Uint8Array; type?: string }>) {
  const form = new FormData();
  for (const file of files) form.append('files', new Blob([file.bytes], { type: file.type ?? 'application/octet-stream' }), file.name);
  return fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/documents`, { method: 'POST', body: form });
}

/** `headers`: sent with every poll (an API key). */
export async function waitUntilEnded(
  api: ApiProcess,
  knowledgeBaseId: string,
  documentId: string,
  timeoutMs = 120_000,
  headers: Record<string, string> = {},
): Promise<DocumentView> {
  return waitFor(
    async () => {
      const document = await expectJson<DocumentView>(
        await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/documents/${documentId}`, { headers }),
        200,
      );
      return document.status === 'ready' || document.status === 'failed' ? document : undefined;
    },
    { timeoutMs, intervalMs: 100, what: `document ${documentId} to end` },
  );
}
