import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  createKnowledgeBase,
  distributedQdrantDeployment,
  embeddedDeployment,
  expectJson,
  realQdrantDeployment,
  generateText,
  upload,
  waitFor,
  waitUntilEnded,
  type ApiProcess,
  type Deployment,
} from '@passage/testing';

const repositoryRoot = path.resolve(import.meta.dirname, '../../..');

interface ReindexRun {
  child: ChildProcess;
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** Runs `npm run reindex` as an operator would (the script itself, same DATA_DIR as the server). */
function runReindex(deployment: Deployment, options: string[]): ReindexRun {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repositoryRoot, 'scripts/reindex.ts'), ...options], {
    cwd: repositoryRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...deployment.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (data: Buffer) => (stdout += data.toString('utf8')));
  child.stderr.on('data', (data: Buffer) => (stderr += data.toString('utf8')));
  const exited = once(child, 'exit').then(([code]) => ({ code: code as number | null, stdout, stderr }));
  return { child, exited };
}

const lastJsonLine = (stdout: string) =>
  JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
    results: Array<{ switched: boolean; resumed: boolean; chunksBefore: number; chunksAfter: number; documents: number; targetGeneration: number }>;
  };

async function search(api: ApiProcess, knowledgeBaseId: string, query: string) {
  return expectJson<{ data: Array<{ documentId: string }> }>(
    await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, topK: 5 }),
    }),
    200,
  );
}

async function knowledgeBase(api: ApiProcess, knowledgeBaseId: string) {
  return expectJson<{ generation: number; reindex: null | { documentsDone: number; documentsTotal: number; running: boolean } }>(
    await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}`),
    200,
  );
}

/** Text documents of about `bytes` each, one of them holding a phrase found nowhere else. */
async function ingestDocuments(api: ApiProcess, knowledgeBaseId: string, count: number, bytes: number): Promise<string> {
  const files = Array.from({ length: count }, (_, position) => {
    const text = [...generateText(bytes, { seed: position + 1 })].join('');
    const marked = position === 0 ? `The lighthouse keeper logs every passing albatross.\n\n${text}` : text;
    return { name: `part-${position}.txt`, bytes: new TextEncoder().encode(marked), type: 'text/plain' };
  });
  const accepted = await expectJson<{ data: Array<{ id: string }> }>(await upload(api, knowledgeBaseId, files), 202);
  for (const { id } of accepted.data) assert.equal((await waitUntilEnded(api, knowledgeBaseId, id, 180_000)).status, 'ready');
  return accepted.data[0]!.id;
}

function describeReindex(name: string, deploy: () => Promise<Deployment>): void {
  describe(`npm run reindex beside a running server: ${name}`, () => {
    it('switches generations while searches for a known phrase never fail nor miss it, keeps the chunk count, and keeps an upload made meanwhile', async () => {
      const deployment = await deploy();
      const { api } = deployment;
      try {
        const knowledgeBaseId = await createKnowledgeBase(api, 'Reindexed');
        const marked = await ingestDocuments(api, knowledgeBaseId, 8, 200_000);
        const run = runReindex(deployment, ['--kb', knowledgeBaseId, '--concurrency', '1', '--drop-old', '--drop-grace-ms', '500', '--json']);
        let searches = 0;
        let uploadedMeanwhile: string | null = null;
        let finished = false;
        void run.exited.then(() => (finished = true));
        while (!finished) {
          const hits = await search(api, knowledgeBaseId, 'lighthouse keeper albatross');
          assert.equal(hits.data[0]?.documentId, marked, `search ${searches} lost the document`);
          searches += 1;
          if (uploadedMeanwhile === null && (await knowledgeBase(api, knowledgeBaseId)).reindex !== null) {
            const note = {
              name: 'meanwhile.txt',
              bytes: new TextEncoder().encode('A note about the narwhal tusk, uploaded during the reindex.'),
              type: 'text/plain',
            };
            uploadedMeanwhile = (await expectJson<{ data: Array<{ id: string }> }>(await upload(api, knowledgeBaseId, [note]), 202)).data[0]!.id;
          }
        }
        const { code, stdout, stderr } = await run.exited;
        assert.equal(code, 0, stderr);
        const [result] = lastJsonLine(stdout).results;
        assert.equal(result?.switched, true);
        assert.equal(result?.targetGeneration, 2);
        assert.ok(searches > 1, `${searches} searches ran during the reindex`);
        assert.ok(uploadedMeanwhile !== null, 'an upload was made while the reindex ran');
        assert.equal((await knowledgeBase(api, knowledgeBaseId)).generation, 2);
        await waitUntilEnded(api, knowledgeBaseId, uploadedMeanwhile);
        assert.equal((await search(api, knowledgeBaseId, 'narwhal tusk')).data[0]?.documentId, uploadedMeanwhile);
        // Every chunk of generation 1 has its counterpart in generation 2 (the note aside, if it arrived first).
        assert.ok(result.chunksAfter === result.chunksBefore || result.chunksAfter === result.chunksBefore + 1, JSON.stringify(result));
      } finally {
        await deployment.stop();
      }
    });

    it('completes when run again after being killed with SIGKILL, and refuses a second run while one holds the knowledge base', async () => {
      const deployment = await deploy();
      const { api } = deployment;
      try {
        const knowledgeBaseId = await createKnowledgeBase(api, 'Killed');
        await ingestDocuments(api, knowledgeBaseId, 6, 300_000);
        const before = await search(api, knowledgeBaseId, 'lighthouse keeper albatross');

        // A short lock lease, so that the killed run's lock runs out soon.
        const first = runReindex(deployment, ['--kb', knowledgeBaseId, '--concurrency', '1', '--lease-ms', '3000', '--json']);
        await waitFor(
          async () => {
            const state = (await knowledgeBase(api, knowledgeBaseId)).reindex;
            return state !== null && state.documentsDone >= 1 ? true : undefined;
          },
          { timeoutMs: 120_000, intervalMs: 20, what: 'the reindex to finish a document' },
        );
        const second = await runReindex(deployment, ['--kb', knowledgeBaseId]).exited;
        assert.equal(second.code, 3, second.stderr);
        assert.match(second.stderr, /reindex_in_progress: Knowledge base \S+ is being reindexed into generation 2/);

        first.child.kill('SIGKILL');
        await first.exited;
        const interrupted = await knowledgeBase(api, knowledgeBaseId);
        assert.equal(interrupted.generation, 1, 'searches still read generation 1');
        assert.deepEqual(await search(api, knowledgeBaseId, 'lighthouse keeper albatross'), before);

        // The killed run's lease must run out first.
        const again = await waitFor(
          async () => {
            const attempt = await runReindex(deployment, ['--kb', knowledgeBaseId, '--json']).exited;
            return attempt.code === 3 ? undefined : attempt;
          },
          { timeoutMs: 60_000, intervalMs: 500, what: 'the killed reindex lease to run out' },
        );
        assert.equal(again.code, 0, again.stderr);
        const [result] = lastJsonLine(again.stdout).results;
        assert.equal(result?.resumed, true);
        assert.equal(result?.switched, true);
        assert.equal(result?.documents, 6);
        assert.equal(result?.chunksAfter, result?.chunksBefore);
        assert.equal((await knowledgeBase(api, knowledgeBaseId)).generation, 2);
        assert.deepEqual(
          (await search(api, knowledgeBaseId, 'lighthouse keeper albatross')).data.map((hit) => hit.documentId),
          before.data.map((hit) => hit.documentId),
        );
      } finally {
        await deployment.stop();
      }
    });
  });
}

describeReindex('embedded (SQLite, in-process rebuilds)', () => embeddedDeployment());

// Scaled: Redis catalog, BullMQ workers that do the rebuilding, the chunk index in a Qdrant
// stand-in that validates every exchange; the switch must have moved the alias.
describeReindex('scaled (Redis, BullMQ workers, Qdrant)', () => distributedQdrantDeployment({ workers: 2, expectedOperation: 'update_aliases' })());

// And against the real Qdrant server when there is one (QDRANT_URL).
const qdrantUrl = process.env.QDRANT_URL;
if (qdrantUrl !== undefined && qdrantUrl !== '') {
  describeReindex(`scaled (Redis, BullMQ workers, the real Qdrant at ${qdrantUrl})`, () => realQdrantDeployment(qdrantUrl, { workers: 2 })());
}
