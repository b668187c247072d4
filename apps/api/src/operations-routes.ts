import { Router } from 'express';
import type { Runtime } from '@passage/runtime';
import { metricsRegistry } from './metrics.js';
import { openApiDescription } from './openapi.js';

type DependencyState = { status: 'up' | 'down' | 'not_configured'; message?: string };

/** Longest wait for one dependency's answer in `/readyz`, ms. */
const readinessTimeoutMs = 2000;

async function probe(check: (signal: AbortSignal) => Promise<unknown>): Promise<DependencyState> {
  const signal = AbortSignal.timeout(readinessTimeoutMs);
  try {
    await Promise.race([
      check(signal),
      new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error(`no answer within ${readinessTimeoutMs} ms`)), { once: true })),
    ]);
    return { status: 'up' };
  } catch (error) {
    return { status: 'down', message: error instanceof Error ? error.message.slice(0, 300) : String(error) };
  }
}

/** Readiness of each dependency: catalog, chunk index, ingestion queue and, when configured, the model server. */
export async function readiness(runtime: Runtime): Promise<Record<string, DependencyState>> {
  const { config } = runtime;
  const [catalog, index, llm] = await Promise.all([
    probe(() => runtime.catalog.getKnowledgeBase('kb_readiness_probe')),
    probe(async (signal) => {
      try {
        await runtime.index.countChunks('kb_readiness_probe', 1);
      } catch (error) {
        // The index answered that the probe's generation does not exist: it is up.
        if ((error as { code?: string }).code !== 'generation_not_found' && !signal.aborted) throw error;
      }
    }),
    config.OPENAI_BASE_URL !== undefined || config.OPENAI_API_KEY !== undefined
      ? probe(async (signal) => {
          const base = (config.OPENAI_BASE_URL ?? 'https://api.openai.com/v1').replace(/\/$/, '');
          const response = await fetch(`${base}/models`, {
            signal,
            headers: config.OPENAI_API_KEY === undefined ? {} : { authorization: `Bearer ${config.OPENAI_API_KEY}` },
          });
          await response.body?.cancel();
          if (response.status >= 500) throw new Error(`the model server answered ${response.status}`);
        })
      : Promise.resolve<DependencyState>(config.llmEnabled ? { status: 'up', message: 'in-process' } : { status: 'not_configured' }),
  ]);
  // Both queues keep their state where the catalog is (SQLite, or the same Redis as BullMQ).
  const queue: DependencyState =
    config.REDIS_URL === undefined ? { status: 'up', message: 'in-process' } : { ...catalog, message: 'BullMQ, on the catalog’s Redis' };
  return { catalog, index, queue, llm };
}

/** `/healthz` (alive), `/readyz` (dependencies), `/openapi.json` and `/metrics`; access rules are the gate's (http-gate.ts). */
export function operationsRoutes(runtime: Runtime): Router {
  const router = Router();
  router.get('/healthz', (_request, response) => {
    response.json({ status: 'ok', mode: runtime.chatModel ? 'llm' : 'extractive' });
  });
  router.get('/readyz', async (_request, response) => {
    const checks = await readiness(runtime);
    const ready = Object.values(checks).every((check) => check.status !== 'down');
    response.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks });
  });
  const description = JSON.stringify(openApiDescription());
  router.get('/openapi.json', (_request, response) => {
    response.type('application/json').send(description);
  });
  router.get('/metrics', async (_request, response) => {
    response.type(metricsRegistry.contentType).send(await metricsRegistry.metrics());
  });
  return router;
}
