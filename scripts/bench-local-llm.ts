/**
 * `npm run bench:local-llm`: what a GGUF model running in process (LLM_PROVIDER=local) costs and
 * gives on this machine. Default model: the tiny one `npm run prepare:local-model` prepares.
 *
 * 1. The model alone, in this process: load time, resident memory the model and its context add,
 *    and per answer the prompt's tokens, the time to first token and the generation speed
 *    (tokens after the first / time after the first), median over --runs answers.
 * 2. Through the API (its own process, LLM_MODEL_PATH): the documents and questions of the API
 *    end-to-end suite (tracemonkey.pdf, turkish-med.pdf, notes.md), each question asked streamed:
 *    time to first token as the `end` event reports it, tokens/s from the provider's log line, how
 *    many answers cite at least one valid `[n]` (and how many carry a marker that names no
 *    source), and the API process's peak resident memory.
 *
 * Options: --model <file.gguf>  --runs 5  --max-tokens 64  --threads <n> (default: the service's, cores − 1)
 *          --context-size <n> (default: the model's)  --json (one JSON object on the last line)
 */
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { LocalChatModel, defaultThreads, requireTinyModel, type LocalGenerationReport } from '@passage/llm-local';
import { createKnowledgeBase, iterateSse, sharedPath, startApiProcess, upload, waitUntilEnded, expectJson, type ApiProcess } from '@passage/testing';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    runs: { type: 'string', default: '5' },
    'max-tokens': { type: 'string', default: '64' },
    threads: { type: 'string' },
    'context-size': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
  strict: true,
});
const modelPath = values.model ?? (await requireTinyModel());
const runs = Number(values.runs);
const maxTokens = Number(values['max-tokens']);
const threads = values.threads === undefined ? defaultThreads() : Number(values.threads);
const contextSize = values['context-size'] === undefined ? undefined : Number(values['context-size']);

const median = (numbers: number[]) => {
  const sorted = [...numbers].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length === 0 ? Number.NaN : sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const mebibytes = (bytes: number) => Math.round(bytes / 2 ** 20);
const generationSpeed = (report: LocalGenerationReport) =>
  report.firstTokenMs === null || report.completionTokens < 2 ? Number.NaN : (report.completionTokens - 1) / ((report.totalMs - report.firstTokenMs) / 1000);

// A prompt shaped like an answer prompt: instructions, numbered passages, the question.
const passages = [
  'Trace trees are a way of recording and compiling the hot loops of a dynamically typed program, including the paths through nested loops.',
  'Because a trace has no join points, it is in SSA form, which makes optimizations such as common subexpression elimination and constant folding easy.',
  'The compiler specializes the trace on the observed types and guards each assumption; a failed guard leaves the trace for the interpreter.',
];
// Each run opens with its own number, so that no run reuses the previous one's prompt from the context.
const benchMessages = (run: number) => [
  { role: 'system' as const, content: `Run ${run + 1}. Answer the question from the numbered passages only, citing each passage you use as [n].` },
  {
    role: 'user' as const,
    content: `Passages:\n${passages.map((text, index) => `[${index + 1}] ${text}`).join('\n')}\n\nQuestion: Which optimizations does SSA form make easy?`,
  },
];

// 1. The model alone.
global.gc?.();
const rssBefore = process.memoryUsage().rss;
const loadStarted = performance.now();
const model = await LocalChatModel.load({
  modelPath,
  maxTokens,
  temperature: 0,
  threads,
  // A slow setting (too many threads) is measured, not stopped.
  idleTimeoutMs: 600_000,
  timeoutMs: 1_200_000,
  ...(contextSize === undefined ? {} : { contextSize }),
});
const loadMs = performance.now() - loadStarted;
const rssLoaded = process.memoryUsage().rss;
const reports: LocalGenerationReport[] = [];
model.onGenerationEnd = (report) => reports.push(report);
for (let run = 0; run < runs; run += 1) {
  let text = '';
  for await (const delta of model.stream({ messages: benchMessages(run), signal: new AbortController().signal })) text += delta;
  if (run === 0) console.log(`First answer in process: ${JSON.stringify(text.slice(0, 160))}`);
}
const rssAfterAnswers = process.memoryUsage().rss;
await model.close();
const inProcess = {
  model: model.name,
  chatTemplate: model.chatTemplate,
  contextSize: model.contextSize,
  loadMs: Math.round(loadMs),
  residentMiB: { before: mebibytes(rssBefore), loaded: mebibytes(rssLoaded), afterAnswers: mebibytes(rssAfterAnswers) },
  promptTokens: reports[0]?.promptTokens ?? 0,
  completionTokensMedian: median(reports.map((report) => report.completionTokens)),
  firstTokenMsMedian: Math.round(median(reports.map((report) => report.firstTokenMs ?? Number.NaN))),
  tokensPerSecondMedian: Number(median(reports.map(generationSpeed)).toFixed(1)),
};

// 2. Through the API, over the end-to-end suite's documents and questions.
const questions = [
  'Which optimizations are easy because traces are in SSA form with no join points?',
  'Where did the quarterly budget meeting move?',
  'Which optimizations does SSA form make easy?',
  'trace trees?',
];
const api: ApiProcess = await startApiProcess({
  timeoutMs: 300_000,
  env: {
    LLM_MODEL_PATH: modelPath,
    LLM_MAX_TOKENS: String(maxTokens),
    LLM_TEMPERATURE: '0',
    LOG_LEVEL: 'info',
    LLM_THREADS: String(threads),
    LLM_IDLE_TIMEOUT_MS: '600000',
    LLM_TIMEOUT_MS: '1200000',
    ...(contextSize === undefined ? {} : { LLM_CONTEXT_SIZE: String(contextSize) }),
  },
});
interface Asked {
  question: string;
  firstTokenMs: number;
  citations: number[];
  invalidCitations: number[];
  answer: string;
}
const asked: Asked[] = [];
/** The API process's peak resident memory so far, MiB (Linux). */
async function peakResidentMiB(apiProcess: ApiProcess): Promise<number> {
  const status = await readFile(`/proc/${apiProcess.child.pid}/status`, 'utf8').catch(() => '');
  return Math.round(Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) / 1024);
}
const peak = { residentMiB: Number.NaN };
try {
  const knowledgeBaseId = await createKnowledgeBase(api, 'Papers');
  const pdf = async (name: string) => new Uint8Array(await readFile(sharedPath('pdfs', name)));
  const accepted = await expectJson<{ data: Array<{ id: string }> }>(
    await upload(api, knowledgeBaseId, [
      { name: 'tracemonkey.pdf', bytes: await pdf('normal_text/tracemonkey_14p.pdf'), type: 'application/pdf' },
      { name: 'turkish-med.pdf', bytes: await pdf('normal_text/pdfparse_04_turkish_med_5p.pdf'), type: 'application/pdf' },
      { name: 'notes.md', bytes: new TextEncoder().encode('# Notes\n\nThe quarterly budget meeting moved to Thursday.\n'), type: 'text/markdown' },
    ]),
    202,
  );
  for (const document of accepted.data) await waitUntilEnded(api, knowledgeBaseId, document.id);
  for (const question of questions) {
    const response = await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/ask`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ question, stream: true }),
    });
    for await (const event of iterateSse(response)) {
      if (event.event === 'error') throw new Error(`the answer to ${JSON.stringify(question)} failed: ${JSON.stringify(event.data)}`);
      if (event.event !== 'end') continue;
      const end = event.data as { answer: string; citations: number[]; invalidCitations: number[]; timings: { firstTokenMs: number } };
      asked.push({ question, firstTokenMs: end.timings.firstTokenMs, citations: end.citations, invalidCitations: end.invalidCitations, answer: end.answer });
    }
  }
  peak.residentMiB = await peakResidentMiB(api);
} finally {
  await api.stop();
}
const apiReports = api
  .output()
  .split('\n')
  .filter((line) => line.includes('"msg":"local generation ended"'))
  .map((line) => JSON.parse(line) as LocalGenerationReport);
// ApiProcess.output() may hold a line twice; the answers are told apart by their order of totals.
const uniqueReports = apiReports.filter((report, index) => apiReports.findIndex((other) => JSON.stringify(other) === JSON.stringify(report)) === index);
const throughApi = {
  questions: asked.length,
  firstTokenMsMedian: Math.round(median(asked.map((answer) => answer.firstTokenMs))),
  promptTokensMedian: median(uniqueReports.map((report) => report.promptTokens)),
  // Reading the prompt is most of the time to the first token: prompt tokens per second of it.
  promptTokensPerSecondMedian: Math.round(median(uniqueReports.map((report) => report.promptTokens / ((report.firstTokenMs ?? Number.NaN) / 1000)))),
  tokensPerSecondMedian: Number(median(uniqueReports.map(generationSpeed)).toFixed(1)),
  answersCitingAValidSource: asked.filter((answer) => answer.citations.length > 0).length,
  answersWithAnInvalidMarker: asked.filter((answer) => answer.invalidCitations.length > 0).length,
  peakResidentMiB: peak.residentMiB,
};

const result = { modelPath, maxTokens, threads, loadAverage: Number(loadavg()[0]!.toFixed(1)), inProcess, throughApi };
console.log(
  `Model ${inProcess.model} (${inProcess.chatTemplate} template, context ${inProcess.contextSize}), ${maxTokens} max tokens, threads ${result.threads}`,
);
console.log(
  `  load ${inProcess.loadMs} ms; resident memory ${inProcess.residentMiB.before} → ${inProcess.residentMiB.loaded} MiB loaded, ${inProcess.residentMiB.afterAnswers} MiB after answering`,
);
console.log(
  `  in process, ${runs} answers to a ${inProcess.promptTokens}-token prompt: time to first token ${inProcess.firstTokenMsMedian} ms, ` +
    `${inProcess.tokensPerSecondMedian} tokens/s (medians, ${inProcess.completionTokensMedian} tokens each)`,
);
console.log(
  `  through the API, ${throughApi.questions} questions of the end-to-end suite: prompts of ${throughApi.promptTokensMedian} tokens read at ` +
    `${throughApi.promptTokensPerSecondMedian} tokens/s, time to first token ${throughApi.firstTokenMsMedian} ms, ` +
    `${throughApi.tokensPerSecondMedian} tokens/s (medians); ${throughApi.answersCitingAValidSource}/${throughApi.questions} answers cite a valid [n], ` +
    `${throughApi.answersWithAnInvalidMarker} carry a marker naming no source; API peak resident memory ${throughApi.peakResidentMiB} MiB`,
);
for (const answer of asked) console.log(`    ${JSON.stringify(answer.question)} → ${JSON.stringify(answer.answer.slice(0, 160))}`);
console.log(`  load average ${result.loadAverage} (2 cores)`);
if (values.json) console.log(JSON.stringify(result));
