import path from 'node:path';
import { OpenAiEmbedder } from '@passage/llm-openai';
import { ConfigError, type Config, type Embedder, type Logger } from '@passage/spec';

/** The embedder the configuration names (EMBEDDING_PROVIDER), or null for lexical retrieval only. */
export async function createEmbedder(config: Config, logger: Logger): Promise<Embedder | null> {
  switch (config.EMBEDDING_PROVIDER) {
    case 'none':
      return null;
    case 'openai': {
      const baseUrl = config.EMBEDDING_BASE_URL ?? config.OPENAI_BASE_URL;
      const apiKey = config.EMBEDDING_API_KEY ?? config.OPENAI_API_KEY;
      // The vector length comes from one probe request, so a wrong URL, key or model stops the start.
      const embedder = await OpenAiEmbedder.create({
        model: config.EMBEDDING_MODEL ?? 'text-embedding-3-small',
        ...(baseUrl === undefined ? {} : { baseUrl }),
        ...(apiKey === undefined ? {} : { apiKey }),
        batchSize: config.EMBEDDING_BATCH_SIZE,
        maxInFlight: config.EMBEDDING_MAX_IN_FLIGHT,
        ...(config.EMBEDDING_QUERY_PREFIX === undefined ? {} : { queryPrefix: config.EMBEDDING_QUERY_PREFIX }),
        ...(config.EMBEDDING_PASSAGE_PREFIX === undefined ? {} : { passagePrefix: config.EMBEDDING_PASSAGE_PREFIX }),
        ...(config.EMBEDDING_QUERY_INPUT_TYPE === undefined ? {} : { queryInputType: config.EMBEDDING_QUERY_INPUT_TYPE }),
        ...(config.EMBEDDING_PASSAGE_INPUT_TYPE === undefined ? {} : { passageInputType: config.EMBEDDING_PASSAGE_INPUT_TYPE }),
      });
      logger.info({ provider: 'openai', model: embedder.name, dimensions: embedder.dimensions }, 'embedder ready');
      return embedder;
    }
    case 'local': {
      // Imported only when configured: loading transformers.js and ONNX Runtime costs half a second.
      const { TransformersEmbedder, defaultLocalEmbeddingModel } = await import('@passage/embedder-transformers');
      const model = config.EMBEDDING_MODEL ?? defaultLocalEmbeddingModel;
      logger.info({ provider: 'local', model }, 'loading the embedding model (a hub model is downloaded on first use)');
      let embedder: Awaited<ReturnType<typeof TransformersEmbedder.load>>;
      try {
        embedder = await TransformersEmbedder.load({
          model,
          batchSize: config.EMBEDDING_BATCH_SIZE,
          precision: config.EMBEDDING_PRECISION,
          ...(config.EMBEDDING_QUERY_PREFIX === undefined ? {} : { queryPrefix: config.EMBEDDING_QUERY_PREFIX }),
          ...(config.EMBEDDING_PASSAGE_PREFIX === undefined ? {} : { passagePrefix: config.EMBEDDING_PASSAGE_PREFIX }),
          // Downloads stay with the data, not inside node_modules where a reinstall would drop them.
          cacheDirectory: path.join(path.resolve(config.DATA_DIR), 'models'),
        });
      } catch (error) {
        throw new ConfigError('EMBEDDING_MODEL', `cannot load the local embedding model "${model}": ${(error as Error).message}`);
      }
      logger.info(
        { provider: 'local', model, precision: config.EMBEDDING_PRECISION, dimensions: embedder.dimensions, pooling: embedder.pooling },
        'embedder ready',
      );
      return embedder;
    }
  }
}
