import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  expectJson,
  iterateSse,
  startApiProcess,
  startStubOpenAiServer,
  stubModelEnvironment,
  waitFor,
  waitUntilEnded,
  type ApiProcess,
  type StubOpenAiServer,
} from '@passage/testing';

const adminKey = 'operations-admin-key-0123456789';
const metricsToken = 'metrics-token-0123456789';

/** The value of one sample of the Prometheus text (`name{labels} value`), 0 when absent. */
function sample(metrics: string, series: string): number {
  const line = metrics.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('Request log and metrics over an upload and a question', () => {
  let stub: StubOpenAiServer;
  let api: ApiProcess;
  const headers = { authorization: `Bearer ${adminKey}` };
  const documentText = 'The lighthouse keeper logged every passing ship in a green ledger.';
  const question = 'Where did the keeper log the ships?';

  before(async () => {
    stub = await startStubOpenAiServer([{ kind: 'stream', tokens: ['In a green', ' ledger [1].'] }]);
    api = await startApiProcess({ env: { ...stubModelEnvironment(stub), ADMIN_API_KEY: adminKey, METRICS_TOKEN: metricsToken, RATE_LIMIT_PER_MINUTE: '0' } });
  });
  after(async () => {
    await api?.stop();
    await stub?.close();
  });

  const scrape = async () => {
    const response = await fetch(`${api.url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/plain/);
    return response.text();
  };

  it('moves the metrics as a document is ingested and a question answered, and logs each request with its id, never the text, question or key', async () => {
    const before = await scrape();
    assert.equal(sample(before, 'passage_documents{status="ready"}'), 0);
    assert.match(before, /passage_event_loop_delay_seconds\{quantile="0.99"\}/);

    const { id: knowledgeBaseId } = await expectJson<{ id: string }>(
      await fetch(`${api.url}/v1/knowledge-bases`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'logs' }),
      }),
      201,
    );
    const form = new FormData();
    form.append('files', new Blob([new TextEncoder().encode(documentText)], { type: 'text/plain' }), 'ledger.txt');
    const uploaded = await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/documents`, {
      method: 'POST',
      headers: { ...headers, 'x-request-id': 'upload-request-1' },
      body: form,
    });
    assert.equal(uploaded.headers.get('x-request-id'), 'upload-request-1');
    const documentId = (await expectJson<{ data: Array<{ id: string }> }>(uploaded, 202)).data[0]!.id;
    assert.equal((await waitUntilEnded(api, knowledgeBaseId, documentId, 60_000, headers)).status, 'ready');

    const asked = await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/ask`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ question, stream: true }),
    });
    const generated = asked.headers.get('x-request-id') ?? '';
    assert.match(generated, /^[0-9a-f-]{36}$/);
    const events: string[] = [];
    for await (const event of iterateSse(asked)) events.push(event.event);
    assert.equal(events.at(-1), 'end');

    // The server records a request's duration once the response has finished, which may be a
    // moment after the client read its last event: the scrape waits for that sample.
    const askSeries = 'passage_http_request_duration_seconds_count{method="POST",route="/v1/knowledge-bases/:knowledgeBaseId/ask",status="200"}';
    const after = await waitFor(
      async () => {
        const metrics = await scrape();
        return sample(metrics, askSeries) >= 1 ? metrics : undefined;
      },
      { what: 'the answer request in the request-duration metric', timeoutMs: 10_000 },
    );
    assert.equal(sample(after, 'passage_documents{status="ready"}'), 1);
    assert.equal(sample(after, 'passage_answers_total{outcome="end"}'), 1);
    assert.ok(sample(after, 'passage_answer_tokens_total') > 0);
    assert.equal(sample(after, 'passage_answer_first_token_seconds_count'), 1);
    assert.equal(sample(after, 'passage_open_answer_streams'), 0);
    assert.equal(sample(after, askSeries), 1);

    const lines = api
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const requestLines = lines.filter((line) => line['msg'] === 'request');
    const uploadLine = requestLines.find((line) => line['requestId'] === 'upload-request-1');
    assert.deepEqual(
      { route: uploadLine?.['route'], status: uploadLine?.['status'], keyId: uploadLine?.['keyId'], level: uploadLine?.['level'] },
      { route: '/v1/knowledge-bases/:knowledgeBaseId/documents', status: 202, keyId: 'admin', level: 30 },
    );
    assert.ok(requestLines.some((line) => line['requestId'] === generated && line['status'] === 200));
    const output = api.output();
    for (const secret of [documentText, 'green ledger', question, adminKey, metricsToken])
      assert.ok(!output.includes(secret), `the log holds ${JSON.stringify(secret)}`);
  });

  it('takes METRICS_TOKEN or an admin key for /metrics, and nothing else', async () => {
    assert.equal((await fetch(`${api.url}/metrics`)).status, 401);
    assert.equal((await fetch(`${api.url}/metrics`, { headers })).status, 200);
  });
});

describe('Graceful shutdown', () => {
  let stub: StubOpenAiServer;
  let api: ApiProcess;
  let knowledgeBaseId: string;
  let releaseToken: () => void = () => {};
  const headers = { authorization: `Bearer ${adminKey}` };

  before(async () => {
    stub = await startStubOpenAiServer();
    api = await startApiProcess({ env: { ...stubModelEnvironment(stub), ADMIN_API_KEY: adminKey, SHUTDOWN_GRACE_MS: '1500', MAX_STREAMS_PER_KEY: '2' } });
    const created = await expectJson<{ id: string }>(
      await fetch(`${api.url}/v1/knowledge-bases`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'shutdown' }),
      }),
      201,
    );
    knowledgeBaseId = created.id;
    const form = new FormData();
    form.append('files', new Blob([new TextEncoder().encode('The ferry leaves at dawn from the north pier.')], { type: 'text/plain' }), 'ferry.txt');
    const documentId = (
      await expectJson<{ data: Array<{ id: string }> }>(
        await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/documents`, { method: 'POST', headers, body: form }),
        202,
      )
    ).data[0]!.id;
    assert.equal((await waitUntilEnded(api, knowledgeBaseId, documentId, 60_000, headers)).status, 'ready');
  });
  after(async () => {
    releaseToken();
    await api?.kill();
    await stub?.close();
  });

  const ask = () =>
    fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/ask`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ question: 'When does the ferry leave?', stream: true }),
    });

  it('caps the answers in progress per caller, and on SIGTERM lets an answer that finishes within SHUTDOWN_GRACE_MS end, ends one that does not with an error event shutting_down, then exits 0', async () => {
    // First answer: its second token waits for the test; second answer: stalls after one token.
    const secondTokenAllowed = new Promise<void>((resolve) => (releaseToken = resolve));
    stub.setBehaviours([
      { kind: 'stream', tokens: ['At dawn', ' [1].'], beforeToken: (position) => (position === 1 ? secondTokenAllowed : Promise.resolve()) },
      { kind: 'stream', tokens: ['From the', ' north pier'], stallAfterTokens: 1 },
    ]);
    const finishing = iterateSse(await ask());
    const cut = iterateSse(await ask());
    // next() by hand: leaving a for-await loop would close the stream.
    const firstEvents = async (events: AsyncGenerator<{ event: string; data: unknown }>) => {
      const seen: string[] = [];
      for (let next = await events.next(); !next.done; next = await events.next()) {
        seen.push(next.value.event);
        if (next.value.event === 'text-delta') break;
      }
      return seen;
    };
    assert.deepEqual(await firstEvents(finishing), ['sources', 'text-delta']);
    assert.deepEqual(await firstEvents(cut), ['sources', 'text-delta']);
    // Two answers in progress for this key: a third is refused (MAX_STREAMS_PER_KEY=2).
    const third = await ask();
    assert.equal(third.status, 429);
    assert.equal(((await third.json()) as { error: { code: string } }).error.code, 'rate_limited');
    assert.equal(third.headers.get('retry-after'), '1');

    const exited = new Promise<number | null>((resolve) => api.child.once('exit', (code) => resolve(code)));
    api.child.kill('SIGTERM');
    await new Promise<void>((resolve) => {
      const check = () => (api.output().includes('"msg":"shutting down"') ? resolve() : setTimeout(check, 20));
      check();
    });
    releaseToken();
    const rest = async (events: AsyncGenerator<{ event: string; data: unknown }>) => {
      const seen: Array<{ event: string; data: unknown }> = [];
      for await (const event of events) seen.push(event);
      return seen;
    };
    const finished = await rest(finishing);
    assert.equal(finished.at(-1)?.event, 'end');
    const ended = await rest(cut);
    const last = ended.at(-1);
    assert.equal(last?.event, 'error');
    assert.equal((last?.data as { code: string }).code, 'shutting_down');
    assert.equal(await exited, 0);
    assert.match(api.output(), /"finished":1,"cut":1/);
    // The upstream model request of the cut answer was closed too.
    assert.ok(stub.requests.at(-1)?.wasAborted());
  });
});
