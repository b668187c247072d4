import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { createKnowledgeBase, expectJson as json, upload, waitUntilEnded, type DocumentView } from './api-client.js';
import type { ApiProcess } from './api-process.js';
import type { Deploy, Deployment } from './deployments.js';
import { sharedPath } from './shared-directory.js';
import { readSse } from './sse-client.js';
import { startStubOpenAiServer, type StubOpenAiServer } from './stub-openai-server.js';

const pdf = async (relative: string) => new Uint8Array(await readFile(sharedPath('pdfs', relative)));

/**
 * The API end to end, from upload to cited answer, against a deployment: every mode (embedded,
 * Redis with BullMQ workers, with Qdrant) must pass the same assertions. `label` names the mode.
 */
export function describeApiEndToEnd(label: string, deploy: Deploy): void {
  describe(`API end to end (${label}, extractive answers)`, () => {
    let deployment: Deployment;
    let api: ApiProcess;
    let knowledgeBaseId: string;
    const documentIds: Record<string, string> = {};

    before(async () => {
      deployment = await deploy();
      api = deployment.api;
      knowledgeBaseId = await createKnowledgeBase(api, 'Papers');
      const response = await upload(api, knowledgeBaseId, [
        { name: 'tracemonkey.pdf', bytes: await pdf('normal_text/tracemonkey_14p.pdf'), type: 'application/pdf' },
        { name: 'turkish-med.pdf', bytes: await pdf('normal_text/pdfparse_04_turkish_med_5p.pdf'), type: 'application/pdf' },
        { name: 'notes.md', bytes: new TextEncoder().encode('# Notes\n\nThe quarterly budget meeting moved to Thursday.\n'), type: 'text/markdown' },
        // A gzip stream: a type no parser reads (a PNG would now go to OCR, an image being a document).
        { name: 'archive.pdf', bytes: new Uint8Array([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00]) },
      ]);
      const accepted = await json<{ data: Array<{ id: string; name: string; bytes: number; status: string }> }>(response, 202);
      assert.equal(accepted.data.length, 4);
      for (const document of accepted.data) {
        assert.equal(document.status, 'queued');
        assert.ok(document.bytes > 0);
        documentIds[document.name] = document.id;
      }
    });

    after(async () => {
      await deployment?.stop();
    });

    it('answers /healthz', async () => {
      const health = await json<{ status: string; mode: string }>(await fetch(`${api.url}/healthz`), 200);
      assert.deepEqual(health, { status: 'ok', mode: 'extractive' });
    });

    it('brings uploaded documents to ready, and a non-PDF named .pdf to failed with a code', async () => {
      const trace = await waitUntilEnded(api, knowledgeBaseId, documentIds['tracemonkey.pdf']!);
      assert.equal(trace.status, 'ready', JSON.stringify(trace));
      assert.equal(trace.pages, 14);
      assert.ok((trace.chunks ?? 0) > 14);
      assert.deepEqual(trace.progress, { stage: 'done', done: trace.chunks, total: trace.chunks });
      assert.equal((await waitUntilEnded(api, knowledgeBaseId, documentIds['turkish-med.pdf']!)).status, 'ready');
      assert.equal((await waitUntilEnded(api, knowledgeBaseId, documentIds['notes.md']!)).status, 'ready');
      const archive = await waitUntilEnded(api, knowledgeBaseId, documentIds['archive.pdf']!);
      assert.equal(archive.status, 'failed');
      assert.equal(archive.error?.code, 'unsupported_type');
      assert.match(archive.error?.message ?? '', /archive\.pdf is not a PDF: its content is application\/gzip/);
      const listed = await json<{ data: DocumentView[] }>(await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/documents`), 200);
      assert.equal(listed.data.length, 4);
    });

    it('streams a cited answer whose citation points at the page that holds it', async () => {
      const started = performance.now();
      const response = await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/ask`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ question: 'Which optimizations are easy because traces are in SSA form with no join points?', stream: true }),
      });
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
      assert.equal(response.headers.get('cache-control'), 'no-cache, no-transform');
      assert.equal(response.headers.get('x-accel-buffering'), 'no');
      const events = await readSse(response, started);
      const names = events.map((event) => event.event);
      assert.equal(names[0], 'sources');
      assert.equal(names.at(-1), 'end');
      assert.ok(names.slice(1, -1).length > 0 && names.slice(1, -1).every((name) => name === 'text-delta'), names.join(','));
      const sources = (
        events[0]?.data as {
          sources: Array<{ index: number; page: number; documentName: string; documentId: string; chunkId: string; score: number; text: string }>;
        }
      ).sources;
      const end = events.at(-1)?.data as {
        answer: string;
        citations: number[];
        mode: string;
        timings: { retrievalMs: number; firstTokenMs: number; totalMs: number };
      };
      assert.equal(end.mode, 'extractive');
      assert.equal(
        events
          .slice(1, -1)
          .map((event) => (event.data as { delta: string }).delta)
          .join(''),
        end.answer,
      );
      const citedPages = end.citations
        .map((index) => sources.find((source) => source.index === index))
        .filter((source) => source?.documentName === 'tracemonkey.pdf')
        .map((source) => source?.page);
      assert.ok(citedPages.includes(8), `expected a citation of page 8, got ${JSON.stringify(citedPages)} in ${end.answer}`);
      assert.match(end.answer, /\[\d+\]/);
      assert.ok(end.timings.firstTokenMs >= end.timings.retrievalMs);
    });

    it('answers the same question as one JSON object with stream:false', async () => {
      const body = await json<{ sources: unknown[]; answer: string; citations: number[]; mode: string; timings: object }>(
        await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/ask`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ question: 'Where did the quarterly budget meeting move?' }),
        }),
        200,
      );
      assert.match(body.answer, /Thursday/);
      assert.ok(body.citations.length > 0);
      assert.equal(body.mode, 'extractive');
    });

    it('searches, and a deleted document is gone from results when DELETE answers', async () => {
      const search = async () =>
        json<{ data: Array<{ documentId: string; page: number; score: number; text: string; chunkId: string; documentName: string }> }>(
          await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/search`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ query: 'endothelium-derived relaxing factor exercise', topK: 5 }),
          }),
          200,
        );
      const before = await search();
      assert.equal(before.data[0]?.documentName, 'turkish-med.pdf');
      assert.ok(before.data.every((hit, position) => position === 0 || hit.score <= before.data[position - 1]!.score));
      await json(await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/documents/${documentIds['turkish-med.pdf']}`, { method: 'DELETE' }), 204);
      const afterDelete = await search();
      assert.ok(afterDelete.data.every((hit) => hit.documentId !== documentIds['turkish-med.pdf']));
      await json(await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/documents/${documentIds['turkish-med.pdf']}`), 404);
    });

    it('answers bad requests with a code and a message', async () => {
      const expectError = async (response: Promise<Response>, status: number, code: string) => {
        const body = await json<{ error: { code: string; message: string } }>(await response, status);
        assert.equal(body.error.code, code);
        assert.ok(body.error.message.length > 0);
      };
      const post = (url: string, body: string) => fetch(`${api.url}${url}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      await expectError(post('/v1/knowledge-bases', '{"name": ""}'), 400, 'invalid_request');
      await expectError(post('/v1/knowledge-bases', '{bad json'), 400, 'invalid_request');
      await expectError(post('/v1/knowledge-bases/kb_missing/ask', '{"question":"q"}'), 404, 'knowledge_base_not_found');
      await expectError(post(`/v1/knowledge-bases/${knowledgeBaseId}/ask`, '{"question":"   "}'), 400, 'invalid_request');
      await expectError(
        post(`/v1/knowledge-bases/${knowledgeBaseId}/ask`, '{"question":"q","history":[{"role":"system","content":"x"}]}'),
        400,
        'invalid_request',
      );
      await expectError(post(`/v1/knowledge-bases/${knowledgeBaseId}/search`, '{"query":"q","mode":"dense"}'), 400, 'invalid_request');
      await expectError(fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/documents`, { method: 'POST', body: new FormData() }), 400, 'invalid_request');
      await expectError(fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/documents/doc_missing`), 404, 'document_not_found');
      await expectError(fetch(`${api.url}/v1/nothing-here`), 404, 'not_found');
      const wrongField = new FormData();
      wrongField.append('file', new Blob(['hello']), 'a.txt');
      await expectError(fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/documents`, { method: 'POST', body: wrongField }), 400, 'invalid_request');
    });

    it('deletes a knowledge base with everything in it', async () => {
      const id = await createKnowledgeBase(api, 'Temporary');
      const accepted = await json<{ data: Array<{ id: string }> }>(
        await upload(api, id, [{ name: 'a.txt', bytes: new TextEncoder().encode('ephemeral words here') }]),
        202,
      );
      await waitUntilEnded(api, id, accepted.data[0]!.id);
      await json(await fetch(`${api.url}/v1/knowledge-bases/${id}`, { method: 'DELETE' }), 204);
      const listed = await json<{ data: Array<{ id: string }> }>(await fetch(`${api.url}/v1/knowledge-bases`), 200);
      assert.ok(listed.data.every((knowledgeBase) => knowledgeBase.id !== id));
      await json(await fetch(`${api.url}/v1/knowledge-bases/${id}/documents`), 404);
    });
  });

  describe(`API end to end (${label}) with an LLM (stub OpenAI server through the openai SDK)`, () => {
    let deployment: Deployment;
    let api: ApiProcess;
    let stub: StubOpenAiServer;

    before(async () => {
      stub = await startStubOpenAiServer([{ kind: 'stream', tokens: ['Trace ', 'optimizations ', 'are cheap ', '[1].'], tokenIntervalMs: 5 }]);
      deployment = await deploy({ OPENAI_BASE_URL: stub.baseUrl, OPENAI_API_KEY: 'sk-test', LLM_MODEL: 'stub-model' });
      api = deployment.api;
    });
    after(async () => {
      await deployment?.stop();
      await stub?.close();
    });

    it('streams the model answer after the sources and sends it the numbered context', async () => {
      const knowledgeBaseId = await createKnowledgeBase(api, 'LLM');
      const accepted = await json<{ data: Array<{ id: string }> }>(
        await upload(api, knowledgeBaseId, [{ name: 'tracemonkey.pdf', bytes: await pdf('normal_text/tracemonkey_14p.pdf') }]),
        202,
      );
      assert.equal((await waitUntilEnded(api, knowledgeBaseId, accepted.data[0]!.id)).status, 'ready');
      const response = await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/ask`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          question: 'Which optimizations does SSA form make easy?',
          history: [
            { role: 'user', content: 'We are reading the TraceMonkey paper.' },
            { role: 'assistant', content: 'Understood.' },
          ],
          stream: true,
        }),
      });
      const events = await readSse(response);
      assert.deepEqual(
        events.map((event) => event.event),
        ['sources', 'text-delta', 'text-delta', 'text-delta', 'text-delta', 'end'],
      );
      const end = events.at(-1)?.data as { answer: string; citations: number[]; mode: string };
      assert.equal(end.mode, 'llm');
      assert.equal(end.answer, 'Trace optimizations are cheap [1].');
      assert.deepEqual(end.citations, [1]);
      const sent = stub.requests.at(-1)?.body.messages ?? [];
      assert.deepEqual(
        sent.map((message) => message.role),
        ['system', 'user', 'assistant', 'user'],
      );
      assert.match(sent.at(-1)?.content ?? '', /\[1\] tracemonkey\.pdf, page \d+/);
      assert.match(sent.at(-1)?.content ?? '', /Question: Which optimizations does SSA form make easy\?$/);
    });

    it('reports an upstream failure as an error event, not as answer text', async () => {
      const knowledgeBaseId = await createKnowledgeBase(api, 'Failing');
      const accepted = await json<{ data: Array<{ id: string }> }>(
        await upload(api, knowledgeBaseId, [{ name: 'a.txt', bytes: new TextEncoder().encode('Some words about trace trees.') }]),
        202,
      );
      await waitUntilEnded(api, knowledgeBaseId, accepted.data[0]!.id);
      stub.setBehaviours([{ kind: 'status', status: 401, body: { error: { message: 'Incorrect API key', type: 'invalid_request_error' } } }]);
      const events = await readSse(
        await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/ask`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ question: 'trace trees?', stream: true }),
        }),
      );
      assert.deepEqual(
        events.map((event) => event.event),
        ['sources', 'error'],
      );
      assert.equal((events[1]?.data as { code: string }).code, 'llm_authentication_failed');
      const nonStreamed = await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/ask`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ question: 'trace trees?' }),
      });
      assert.equal(nonStreamed.status, 502);
      assert.equal(((await nonStreamed.json()) as { error: { code: string } }).error.code, 'llm_authentication_failed');
    });
  });
}
