import { ConfigError, type Config, type Embedder, type Logger } from '@passage/spec';

/** The embedder the configuration names (EMBEDDING_PROVIDER), or null for lexical retrieval only. */
export async function createEmbedder(config: Config, logger: Logger): Promise<Embedder | null> {
  void logger;
  switch (config.EMBEDDING_PROVIDER) {
    case 'none':
      return null;
    case 'local':
    case 'openai':
      throw new ConfigError('EMBEDDING_PROVIDER', `"${config.EMBEDDING_PROVIDER}" is not available in this version`);
  }
}
