/**
 * `npm run bench:embedded`: the embedded default as a user meets it. Starts the API in its own
 * process on a fresh DATA_DIR, uploads the 352-page PDF and times upload → `ready`, then times
 * the first `text-delta` of streamed answers (extractive, and through a stub LLM whose own time
 * to first token is fixed, so the difference is ours). Prints a table; `--json` adds one JSON line.
 */
import { readFile, rm } from 'node:fs/promises';
import {
  createKnowledgeBase,
  expectJson,
  iterateSse,
  sharedPath,
  startApiProcess,
  startStubOpenAiServer,
  upload,
  waitUntilEnded,
  type ApiProcess,
} from '@passage/testing';

const asJson = process.argv.includes('--json');
const questions = [
  'How did Walt Disney use Steamboat Willie?',
  'What does the author say about piracy and peer-to-peer sharing?',
  'Why does copyright term extension matter to the public domain?',
  'What happened to the Causby family and their chickens?',
  'What is the role of the Creative Commons licence?',
];

async function firstDeltaMs(api: ApiProcess, knowledgeBaseId: string, question: string): Promise<{ firstDeltaMs: number; totalMs: number }> {
  const started = performance.now();
  const response = await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/ask`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ question, stream: true }),
  });
  let firstDelta: number | null = null;
  for await (const event of iterateSse(response, started)) {
    if (event.event === 'text-delta' && firstDelta === null) firstDelta = event.at;
    if (event.event === 'error') throw new Error(`answer failed: ${JSON.stringify(event.data)}`);
  }
  if (firstDelta === null) throw new Error('no text-delta received');
  return { firstDeltaMs: firstDelta, totalMs: performance.now() - started };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

async function run(api: ApiProcess): Promise<{ ingestMs: number; pages: number | null; chunks: number | null; firstDelta: number[]; knowledgeBaseId: string }> {
  const knowledgeBaseId = await createKnowledgeBase(api, 'Benchmark');
  const bytes = new Uint8Array(await readFile(sharedPath('pdfs/huge_pages/pdfjs_freeculture_352p.pdf')));
  const started = performance.now();
  const accepted = await expectJson<{ data: Array<{ id: string }> }>(await upload(api, knowledgeBaseId, [{ name: 'freeculture.pdf', bytes }]), 202);
  const document = await waitUntilEnded(api, knowledgeBaseId, accepted.data[0]!.id, 300_000);
  const ingestMs = performance.now() - started;
  if (document.status !== 'ready') throw new Error(`ingestion failed: ${JSON.stringify(document.error)}`);
  await firstDeltaMs(api, knowledgeBaseId, 'warm-up question about culture'); // loads the index
  const firstDelta: number[] = [];
  for (const question of questions) firstDelta.push((await firstDeltaMs(api, knowledgeBaseId, question)).firstDeltaMs);
  return { ingestMs, pages: document.pages, chunks: document.chunks, firstDelta, knowledgeBaseId };
}

const extractiveApi = await startApiProcess({});
let extractive;
try {
  extractive = await run(extractiveApi);
} finally {
  await extractiveApi.stop();
  await rm(extractiveApi.dataDirectory, { recursive: true, force: true });
}

const stubFirstTokenMs = 200;
const stub = await startStubOpenAiServer([
  { kind: 'stream', tokens: Array.from({ length: 40 }, (_, position) => `token${position} `), firstTokenDelayMs: stubFirstTokenMs, tokenIntervalMs: 20 },
]);
const llmApi = await startApiProcess({ env: { OPENAI_BASE_URL: stub.baseUrl, LLM_MODEL: 'stub' } });
let llm;
try {
  llm = await run(llmApi);
} finally {
  await llmApi.stop();
  await stub.close();
  await rm(llmApi.dataDirectory, { recursive: true, force: true });
}

const result = {
  pdf: 'huge_pages/pdfjs_freeculture_352p.pdf',
  pages: extractive.pages,
  chunks: extractive.chunks,
  uploadToReadyMs: Math.round(extractive.ingestMs),
  uploadToReadyMsSecondRun: Math.round(llm.ingestMs),
  extractiveFirstDeltaMedianMs: Math.round(median(extractive.firstDelta) * 10) / 10,
  llmFirstDeltaMedianMs: Math.round(median(llm.firstDelta) * 10) / 10,
  stubFirstTokenMs,
  llmAddedFirstDeltaMedianMs: Math.round((median(llm.firstDelta) - stubFirstTokenMs) * 10) / 10,
};

console.log(`PDF ${result.pdf}: ${result.pages} pages, ${result.chunks} chunks`);
console.log(`upload → ready:                 ${result.uploadToReadyMs} ms (second run ${result.uploadToReadyMsSecondRun} ms)`);
console.log(`first text-delta, extractive:   ${result.extractiveFirstDeltaMedianMs} ms (median of ${questions.length})`);
console.log(
  `first text-delta, stub LLM:     ${result.llmFirstDeltaMedianMs} ms (stub's own first token: ${stubFirstTokenMs} ms; ours: ${result.llmAddedFirstDeltaMedianMs} ms)`,
);
if (asJson) console.log(JSON.stringify(result));
