import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { startApiProcess, temporaryDataDirectory, type ApiProcess } from './api-process.js';
import { startFakeQdrantServer } from './fake-qdrant-server.js';
import { standaloneTestRedis, uniqueRedisPrefix, type TestRedis } from './redis-test-prefix.js';
import { startWorkerProcess, type WorkerProcess } from './worker-process.js';

/** An API (and its workers) started for a test, with what it takes to remove all of it again. */
export interface Deployment {
  api: ApiProcess;
  workers: WorkerProcess[];
  /** The environment API and workers share (what a tool beside them, such as the reindex command, needs too). */
  env: Record<string, string>;
  /** Starts one more worker process like the others (scaled modes only); `stop` stops it too. */
  addWorker?: () => Promise<WorkerProcess>;
  /** Stops every process and deletes what the deployment stored (data directory, Redis keys). */
  stop(): Promise<void>;
}

/** Starts a deployment; `env` goes to the API (an LLM server, say). */
export type Deploy = (env?: Record<string, string>) => Promise<Deployment>;

/** The default: one API process that ingests, everything in a fresh DATA_DIR. */
export const embeddedDeployment: Deploy = async (env = {}) => {
  const api = await startApiProcess({ env });
  return {
    api,
    workers: [],
    env: { DATA_DIR: api.dataDirectory, ...env },
    async stop() {
      await api.stop();
      await rm(api.dataDirectory, { recursive: true, force: true });
    },
  };
};

export interface DistributedOptions {
  /** Worker processes. Default: 2. */
  workers?: number;
  /** Documents each worker ingests at once (WORKER_CONCURRENCY). Default: 1. */
  workerConcurrency?: number;
  /** QDRANT_URL for API and workers; default: the embedded index they share through DATA_DIR. */
  qdrantUrl?: string;
  /** Added to the environment of API and workers. */
  env?: Record<string, string>;
  /** The Redis of catalog and queue: a cluster of startRedisCluster sets REDIS_CLUSTER=true. Default: the standalone test server. */
  redis?: TestRedis;
}

/**
 * Scaled mode on one machine: Redis catalog and BullMQ queue (on `options.redis`, a standalone
 * server or a Redis Cluster) under a key prefix of its own, an API that only enqueues
 * (INGEST_IN_API=false) and worker processes, sharing one DATA_DIR (embedded index and originals)
 * unless a Qdrant URL is given. `stop` deletes the prefix's keys.
 */
export function distributedDeployment(options: DistributedOptions = {}): Deploy {
  return async (env = {}) => {
    const redis = options.redis ?? standaloneTestRedis;
    const { prefix, cleanup } = uniqueRedisPrefix('deployment', redis);
    const dataDirectory = await temporaryDataDirectory();
    const shared: Record<string, string> = {
      REDIS_URL: redis.url,
      ...(redis.cluster ? { REDIS_CLUSTER: 'true' } : {}),
      QUEUE_PREFIX: prefix,
      WORKER_CONCURRENCY: String(options.workerConcurrency ?? 1),
      ...(options.qdrantUrl === undefined ? {} : { QDRANT_URL: options.qdrantUrl, QDRANT_COLLECTION_PREFIX: prefix.replaceAll(/[^A-Za-z0-9_-]/g, '_') }),
      ...options.env,
    };
    const workers: WorkerProcess[] = [];
    const addWorker = async () => {
      const worker = await startWorkerProcess({ dataDirectory, env: shared });
      workers.push(worker);
      return worker;
    };
    let api: ApiProcess | undefined;
    const stop = async () => {
      await api?.stop();
      await Promise.all(workers.map((worker) => worker.stop()));
      await cleanup();
      await rm(dataDirectory, { recursive: true, force: true });
    };
    try {
      api = await startApiProcess({ dataDirectory, env: { ...shared, INGEST_IN_API: 'false', ...env } });
      const started = await Promise.allSettled(Array.from({ length: options.workers ?? 2 }, addWorker));
      const failed = started.find((outcome) => outcome.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      if (redis.cluster) {
        // What the processes said at start-up (createStorage's line): a cluster test that ran on something else would prove nothing.
        for (const started of [api, ...workers]) assert.match(started.output(), /"catalog":"redis-cluster"/, `runs on the ${redis.description}`);
      }
      return { api, workers, env: { DATA_DIR: dataDirectory, ...shared }, addWorker, stop };
    } catch (error) {
      await stop();
      throw error;
    }
  };
}

/**
 * The scaled mode with the chunk index in Qdrant: a Qdrant stand-in in this process that checks
 * every request the API and the workers send, and every answer, against Qdrant's OpenAPI
 * description. `stop` fails when any exchange did not validate, or when none had `operationId`
 * (`expectedOperation`: what the test must have made Qdrant do, e.g. `query_points`).
 */
export function distributedQdrantDeployment(options: Omit<DistributedOptions, 'qdrantUrl'> & { expectedOperation: string }): Deploy {
  return async (env = {}) => {
    const qdrant = await startFakeQdrantServer();
    const deployment = await distributedDeployment({ ...options, qdrantUrl: qdrant.url })(env).catch(async (error: unknown) => {
      await qdrant.close();
      throw error;
    });
    return {
      ...deployment,
      async stop() {
        await deployment.stop();
        await qdrant.close();
        assert.ok(
          qdrant.exchanges.some((exchange) => exchange.operationId === options.expectedOperation),
          `Qdrant was asked for ${options.expectedOperation}`,
        );
        assert.deepEqual(qdrant.problems(), [], 'every Qdrant request and answer validates against the OpenAPI schema');
      },
    };
  };
}
