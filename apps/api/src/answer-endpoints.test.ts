import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTextKnowledgeBase, expectJson, readSse, startApiProcess, type ApiProcess } from '@passage/testing';

describe('Answer endpoints served before Express: the same routing, body rules and errors as the other routes', () => {
  let api: ApiProcess;
  let knowledgeBaseId: string;

  before(async () => {
    api = await startApiProcess();
    ({ knowledgeBaseId } = await createTextKnowledgeBase(api, 'Endpoints', { 'a.txt': 'The harbour light burned olive oil at night.' }));
  });
  after(async () => {
    await api?.stop();
  });

  const post = (path: string, body: string | Uint8Array, contentType = 'application/json') =>
    fetch(`${api.url}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body });

  it('answers with a query string and a trailing slash, as Express routing did', async () => {
    const response = await post(`/v1/knowledge-bases/${knowledgeBaseId}/ask/?trace=1`, JSON.stringify({ question: 'What did the light burn?', stream: true }));
    assert.equal(response.status, 200);
    const events = await readSse(response);
    assert.equal(events.at(-1)?.event, 'end');
  });

  it('rejects malformed JSON (400), other content types (415) and bodies over 1 MB (413)', async () => {
    const error = async (response: Promise<Response>, status: number, code: string) => {
      const body = await expectJson<{ error: { code: string; message: string } }>(await response, status);
      assert.equal(body.error.code, code);
      return body.error.message;
    };
    assert.match(await error(post(`/v1/knowledge-bases/${knowledgeBaseId}/ask`, '{"question":'), 400, 'invalid_request'), /not valid JSON/);
    assert.match(
      await error(post(`/v1/knowledge-bases/${knowledgeBaseId}/ask`, 'question=hi', 'application/x-www-form-urlencoded'), 415, 'unsupported_media_type'),
      /must be application\/json/,
    );
    const huge = JSON.stringify({ question: 'q', history: [{ role: 'user', content: 'x'.repeat(1_100_000) }] });
    await error(post(`/v1/knowledge-bases/${knowledgeBaseId}/ask`, huge), 413, 'payload_too_large');
    const openAi = await expectJson<{ error: { type: string; code: string } }>(await post('/v1/chat/completions', huge), 413);
    assert.deepEqual(openAi.error, { message: 'The request body is too large', type: 'invalid_request_error', param: null, code: 'payload_too_large' });
  });

  it('answers a malformed path parameter with 400 invalid_request, as Express routing does', async () => {
    const body = await expectJson<{ error: { code: string; message: string } }>(
      await post('/v1/knowledge-bases/%E0%A4%A/ask', JSON.stringify({ question: 'q' })),
      400,
    );
    assert.equal(body.error.code, 'invalid_request');
    assert.match(body.error.message, /Malformed path parameter/);
  });

  it('answers another method on the same path with 405 and Allow: POST', async () => {
    const response = await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/ask`);
    assert.equal(response.headers.get('allow'), 'POST');
    const body = await expectJson<{ error: { code: string } }>(response, 405);
    assert.equal(body.error.code, 'method_not_allowed');
  });
});
