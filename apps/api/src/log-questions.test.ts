import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createKnowledgeBase, expectJson, startApiProcess, upload, waitFor, waitUntilEnded, type ApiProcess } from '@passage/testing';

const question = 'Which lantern is lit first at the quay?';

/** Uploads a document, asks the question, and returns the request log lines of the question. */
async function askAndReadLog(api: ApiProcess): Promise<Array<Record<string, unknown>>> {
  const knowledgeBaseId = await createKnowledgeBase(api, 'Questions');
  const accepted = await expectJson<{ data: Array<{ id: string }> }>(
    await upload(api, knowledgeBaseId, [{ name: 'quay.txt', bytes: new TextEncoder().encode('The green lantern at the quay is lit first, at dusk.') }]),
    202,
  );
  assert.equal((await waitUntilEnded(api, knowledgeBaseId, accepted.data[0]!.id, 60_000)).status, 'ready');
  const asked = await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/ask`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': 'question-request-1' },
    body: JSON.stringify({ question }),
  });
  await expectJson(asked, 200);
  // The request line is written when the response closes: wait for it.
  await waitFor(async () => (api.output().includes('"requestId":"question-request-1"') ? true : undefined), {
    intervalMs: 25,
    timeoutMs: 10_000,
    what: 'the request line of the question',
  });
  // Distinct lines: api-process.ts records the output after the start twice.
  return [...new Set(api.output().split('\n'))]
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line['msg'] === 'request' && line['requestId'] === 'question-request-1');
}

describe('LOG_QUESTIONS', () => {
  it('with LOG_QUESTIONS=true, the request log line of an answer carries the question', async () => {
    const api = await startApiProcess({ env: { LOG_QUESTIONS: 'true' } });
    try {
      const lines = await askAndReadLog(api);
      assert.equal(lines.length, 1, api.output());
      assert.equal(lines[0]!['question'], question);
      assert.equal(lines[0]!['route'], '/v1/knowledge-bases/:knowledgeBaseId/ask');
    } finally {
      await api.stop();
    }
  });

  it('by default, the question is nowhere in the log, though the request line is there', async () => {
    const api = await startApiProcess();
    try {
      const lines = await askAndReadLog(api);
      assert.equal(lines.length, 1, api.output());
      assert.equal(lines[0]!['question'], undefined);
      assert.ok(!api.output().includes(question), 'the log holds the question');
    } finally {
      await api.stop();
    }
  });
});
