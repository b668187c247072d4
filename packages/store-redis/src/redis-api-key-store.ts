import { silentLogger, type ApiKeyRecord, type ApiKeyStore, type Logger, type NewApiKey } from '@passage/spec';
import { createRedisClient, type RedisClient } from './redis-client.js';
import { toRedisError } from './redis-error.js';

export interface RedisApiKeyStoreOptions {
  /** `redis://[user:password@]host:port[/db]`; with `cluster`, one node of the cluster. */
  url: string;
  /**
   * Start of every key; the store's keys are `${keyPrefix}:api-keys:...`, or on a cluster
   * `{${keyPrefix}:api-keys}:...` (one hash tag, so that a MULTI touches one slot). Default: `passage`.
   */
  keyPrefix?: string;
  /** `true`: `url` is a node of a Redis Cluster. Default: false. */
  cluster?: boolean;
  /** Clock for `createdAt` (tests). Default: the system clock. */
  now?: () => Date;
  /** Where connection problems are reported. Default: none. */
  logger?: Logger;
}

interface StoredApiKey extends ApiKeyRecord {
  secretHash: string;
}

function publicRecord(stored: StoredApiKey): ApiKeyRecord {
  return {
    id: stored.id,
    name: stored.name,
    scopes: stored.scopes,
    knowledgeBases: stored.knowledgeBases,
    createdAt: stored.createdAt,
    expiresAt: stored.expiresAt,
  };
}

/**
 * API keys in Redis, shared by every API replica (the scaled mode). Per key a string holds the
 * record as JSON, a second string maps the SHA-256 of the key to its id, and a sorted set scored
 * by creation time lists them. Creation and revocation change the three in one MULTI; on a Redis
 * Cluster all of them share one hash tag for it (API keys are few and small: one slot holds them).
 */
export class RedisApiKeyStore implements ApiKeyStore {
  readonly #client: RedisClient;
  readonly #prefix: string;
  readonly #now: () => Date;

  constructor(options: RedisApiKeyStoreOptions) {
    const base = `${options.keyPrefix ?? 'passage'}:api-keys`;
    this.#prefix = options.cluster === true ? `{${base}}:` : `${base}:`;
    this.#now = options.now ?? (() => new Date());
    // As the catalog: fail a command after two reconnection attempts, so that a request answers 503 instead of hanging.
    this.#client = createRedisClient({ url: options.url, cluster: options.cluster ?? false, connectionName: 'passage-api-keys', maxRetriesPerRequest: 2 });
    const logger = options.logger ?? silentLogger;
    this.#client.on('error', (error: Error) => logger.warn({ err: error }, 'Redis connection problem (API keys)'));
  }

  async createApiKey(key: NewApiKey): Promise<ApiKeyRecord> {
    const createdAt = this.#now();
    const stored: StoredApiKey = {
      id: key.id,
      name: key.name,
      scopes: key.scopes,
      knowledgeBases: key.knowledgeBases,
      createdAt: createdAt.toISOString(),
      expiresAt: key.expiresAt,
      secretHash: key.secretHash,
    };
    await this.#run(() =>
      this.#client
        .multi()
        .set(this.#recordKey(key.id), JSON.stringify(stored))
        .set(this.#hashKey(key.secretHash), key.id)
        .zadd(`${this.#prefix}all`, createdAt.getTime(), key.id)
        .exec(),
    );
    return publicRecord(stored);
  }

  async findApiKeyBySecretHash(secretHash: string): Promise<ApiKeyRecord | null> {
    return this.#run(async () => {
      const id = await this.#client.get(this.#hashKey(secretHash));
      if (id === null) return null;
      const stored = await this.#read(id);
      // Revoked between the two reads, or a mapping left by another key: not this key.
      return stored?.secretHash === secretHash ? publicRecord(stored) : null;
    });
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    return this.#run(async () => {
      const ids = await this.#client.zrange(`${this.#prefix}all`, '0', '-1');
      if (ids.length === 0) return [];
      const values = await this.#client.mget(ids.map((id) => this.#recordKey(id)));
      return values.flatMap((value) => (value === null ? [] : [publicRecord(JSON.parse(value) as StoredApiKey)]));
    });
  }

  async deleteApiKey(id: string): Promise<boolean> {
    return this.#run(async () => {
      const stored = await this.#read(id);
      if (stored === null) return false;
      const results = await this.#client.multi().del(this.#recordKey(id)).del(this.#hashKey(stored.secretHash)).zrem(`${this.#prefix}all`, id).exec();
      return results?.[0]?.[1] === 1;
    });
  }

  async close(): Promise<void> {
    await this.#client.quit().catch(() => this.#client.disconnect());
  }

  async #read(id: string): Promise<StoredApiKey | null> {
    const value = await this.#client.get(this.#recordKey(id));
    return value === null ? null : (JSON.parse(value) as StoredApiKey);
  }

  #recordKey(id: string): string {
    return `${this.#prefix}key:${id}`;
  }

  #hashKey(secretHash: string): string {
    return `${this.#prefix}hash:${secretHash}`;
  }

  async #run<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw toRedisError(error, 'API key');
    }
  }
}
