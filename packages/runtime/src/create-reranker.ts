import path from 'node:path';
import type { Config, Logger, Reranker } from '@passage/spec';

/**
 * The reranker the configuration names (RERANK_PROVIDER), or null for none. A local model that
 * cannot be loaded (not in the cache and no network, a wrong folder) does not stop the start:
 * retrieval runs without the second stage and says so once, at warn level.
 */
export async function createReranker(config: Config, logger: Logger): Promise<Reranker | null> {
  switch (config.RERANK_PROVIDER) {
    case 'none':
      return null;
    case 'http': {
      const { HttpReranker } = await import('@passage/reranker-http');
      const reranker = new HttpReranker({
        // loadConfig refuses RERANK_PROVIDER=http without RERANK_BASE_URL.
        baseUrl: config.RERANK_BASE_URL ?? '',
        ...(config.RERANK_MODEL === undefined ? {} : { model: config.RERANK_MODEL }),
        ...(config.RERANK_API_KEY === undefined ? {} : { apiKey: config.RERANK_API_KEY }),
        batchSize: config.RERANK_BATCH_SIZE,
      });
      logger.info({ provider: 'http', url: config.RERANK_BASE_URL, candidates: config.RERANK_CANDIDATES }, 'reranker ready');
      return reranker;
    }
    case 'local': {
      // Imported only when configured: loading transformers.js and ONNX Runtime costs half a second.
      const { TransformersReranker, defaultLocalRerankModel } = await import('@passage/reranker-transformers');
      const model = config.RERANK_MODEL ?? defaultLocalRerankModel;
      try {
        const reranker = await TransformersReranker.load({
          model,
          batchSize: config.RERANK_BATCH_SIZE,
          precision: config.RERANK_PRECISION,
          cacheDirectory: path.join(path.resolve(config.DATA_DIR), 'models'),
        });
        logger.info({ provider: 'local', model, precision: config.RERANK_PRECISION, candidates: config.RERANK_CANDIDATES }, 'reranker ready');
        return reranker;
      } catch (error) {
        logger.warn(
          { provider: 'local', model, err: error },
          `reranking is off: the rerank model "${model}" cannot be loaded (${(error as Error).message}); answers use first-stage retrieval only`,
        );
        return null;
      }
    }
  }
}
