import { Redis } from 'ioredis';
import {
  AppError,
  NotFoundError,
  silentLogger,
  type Catalog,
  type DocumentRecord,
  type DocumentStatus,
  type DocumentUpdate,
  type KnowledgeBase,
  type Logger,
  type NewDocument,
} from '@passage/spec';
import {
  claimDocumentScript,
  createDocumentsScript,
  createKnowledgeBaseScript,
  deleteDocumentScript,
  deleteKnowledgeBaseScript,
  setGenerationScript,
  updateDocumentScript,
} from './catalog-scripts.js';
import { toRedisError } from './redis-error.js';

export interface RedisCatalogOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS). */
  url: string;
  /**
   * Start of every key the catalog writes, so that several deployments (and tests) share one Redis.
   * The catalog's keys are `${keyPrefix}:catalog:...`. Default: `passage`.
   */
  keyPrefix?: string;
  /** Clock for timestamps (tests). Default: the system clock. */
  now?: () => Date;
  /** Where connection problems are reported (commands fail with service_unavailable meanwhile). Default: none. */
  logger?: Logger;
}

interface CatalogCommands {
  passageCreateKnowledgeBase(...args: string[]): Promise<number>;
  passageSetGeneration(...args: string[]): Promise<number>;
  passageCreateDocuments(...args: string[]): Promise<number>;
  passageUpdateDocument(...args: string[]): Promise<string[] | null>;
  passageClaimDocument(...args: string[]): Promise<string[] | null>;
  passageDeleteDocument(...args: string[]): Promise<number>;
  passageDeleteKnowledgeBase(...args: string[]): Promise<number>;
}

type CatalogClient = Redis & CatalogCommands;

/**
 * The catalog in Redis, shared by every API replica and worker. Each knowledge base and document
 * is a hash; sorted sets scored by creation time keep the lists in order (all knowledge bases, the
 * documents of one knowledge base, the documents in each status). Every change that touches more
 * than one key runs as one Lua script (catalog-scripts.ts), so it is atomic: a claim never races
 * a delete, and an update never brings a deleted document back.
 */
export class RedisCatalog implements Catalog {
  readonly #client: CatalogClient;
  readonly #prefix: string;
  readonly #now: () => Date;

  constructor(options: RedisCatalogOptions) {
    this.#prefix = `${options.keyPrefix ?? 'passage'}:catalog:`;
    this.#now = options.now ?? (() => new Date());
    const client = new Redis(options.url, {
      connectionName: 'passage-catalog',
      // Fail a command after two reconnection attempts (about a second) instead of ioredis's 20: the
      // API answers 503 and a worker's job is retried, rather than both hanging while Redis is down.
      maxRetriesPerRequest: 2,
    });
    // Connection problems also surface as rejected commands (mapped to service_unavailable); a
    // listener keeps ioredis from printing them as unhandled.
    const logger = options.logger ?? silentLogger;
    client.on('error', (error: Error) => logger.warn({ err: error }, 'Redis connection problem (catalog)'));
    client.defineCommand('passageCreateKnowledgeBase', { lua: createKnowledgeBaseScript, numberOfKeys: 0 });
    client.defineCommand('passageSetGeneration', { lua: setGenerationScript, numberOfKeys: 0 });
    client.defineCommand('passageCreateDocuments', { lua: createDocumentsScript, numberOfKeys: 0 });
    client.defineCommand('passageUpdateDocument', { lua: updateDocumentScript, numberOfKeys: 0 });
    client.defineCommand('passageClaimDocument', { lua: claimDocumentScript, numberOfKeys: 0 });
    client.defineCommand('passageDeleteDocument', { lua: deleteDocumentScript, numberOfKeys: 0 });
    client.defineCommand('passageDeleteKnowledgeBase', { lua: deleteKnowledgeBaseScript, numberOfKeys: 0 });
    this.#client = client as CatalogClient;
  }

  async createKnowledgeBase(input: { id: string; name: string }): Promise<KnowledgeBase> {
    return this.#run(async () => {
      const createdAt = this.#now();
      const created = await this.#client.passageCreateKnowledgeBase(
        this.#prefix,
        input.id,
        input.name,
        createdAt.toISOString(),
        String(createdAt.getTime()),
      );
      if (created !== 1) throw new AppError('internal_error', `Knowledge base ${input.id} already exists`);
      return { id: input.id, name: input.name, createdAt: createdAt.toISOString(), generation: 1 };
    });
  }

  async getKnowledgeBase(id: string): Promise<KnowledgeBase | null> {
    return this.#run(async () => toKnowledgeBase(await this.#client.hgetall(this.#knowledgeBaseKey(id))));
  }

  async listKnowledgeBases(): Promise<KnowledgeBase[]> {
    return this.#run(async () => {
      const ids = await this.#client.zrange(`${this.#prefix}kbs`, '0', '-1');
      const pipeline = this.#client.pipeline();
      for (const id of ids) pipeline.hgetall(this.#knowledgeBaseKey(id));
      return pipelineResults<Record<string, string>>(await pipeline.exec()).flatMap((hash) => {
        const knowledgeBase = toKnowledgeBase(hash);
        return knowledgeBase === null ? [] : [knowledgeBase];
      });
    });
  }

  async deleteKnowledgeBase(id: string): Promise<boolean> {
    return this.#run(async () => (await this.#client.passageDeleteKnowledgeBase(this.#prefix, id)) === 1);
  }

  async setGeneration(knowledgeBaseId: string, generation: number): Promise<void> {
    await this.#run(() => this.#client.passageSetGeneration(this.#prefix, knowledgeBaseId, String(generation)));
  }

  async createDocuments(documents: NewDocument[]): Promise<DocumentRecord[]> {
    if (documents.length === 0) return [];
    return this.#run(async () => {
      const started = this.#now().getTime();
      const records = documents.map((document, position): DocumentRecord => {
        // Distinct timestamps keep "oldest first" stable for documents uploaded together.
        const createdAt = new Date(started + position).toISOString();
        return {
          id: document.id,
          knowledgeBaseId: document.knowledgeBaseId,
          name: document.name,
          bytes: document.bytes,
          contentHash: document.contentHash,
          mediaType: document.mediaType,
          type: null,
          status: 'queued',
          progress: { stage: 'queued', done: 0, total: 0 },
          pages: null,
          chunks: null,
          error: null,
          attempts: 0,
          createdAt,
          updatedAt: createdAt,
        };
      });
      const argumentsList = records.flatMap((record) => [
        record.knowledgeBaseId,
        record.id,
        String(Date.parse(record.createdAt)),
        JSON.stringify(encodeFields(record)),
      ]);
      const result = await this.#client.passageCreateDocuments(this.#prefix, ...argumentsList);
      if (result === -1) throw new NotFoundError('knowledge_base_not_found', 'The knowledge base does not exist');
      if (result === -2) throw new AppError('internal_error', 'A document id is already taken');
      return records;
    });
  }

  async getDocument(knowledgeBaseId: string, documentId: string): Promise<DocumentRecord | null> {
    return this.#run(async () => {
      const document = toDocument(await this.#client.hgetall(this.#documentKey(documentId)));
      return document !== null && document.knowledgeBaseId === knowledgeBaseId ? document : null;
    });
  }

  async listDocuments(knowledgeBaseId: string): Promise<DocumentRecord[]> {
    return this.#run(async () => this.#documentsByIds(await this.#client.zrange(`${this.#knowledgeBaseKey(knowledgeBaseId)}:documents`, '0', '-1')));
  }

  async listDocumentsByStatus(statuses: DocumentStatus[]): Promise<DocumentRecord[]> {
    if (statuses.length === 0) return [];
    return this.#run(async () => {
      const pipeline = this.#client.pipeline();
      for (const status of new Set(statuses)) pipeline.zrange(`${this.#prefix}status:${status}`, '0', '-1', 'WITHSCORES');
      const entries: Array<{ id: string; score: number }> = [];
      for (const flat of pipelineResults<string[]>(await pipeline.exec())) {
        for (let position = 0; position + 1 < flat.length; position += 2) {
          entries.push({ id: flat[position]!, score: Number(flat[position + 1]) });
        }
      }
      // Oldest first, ties by id: the order a single sorted set would give.
      entries.sort((left, right) => left.score - right.score || (left.id < right.id ? -1 : left.id > right.id ? 1 : 0));
      return this.#documentsByIds(entries.map((entry) => entry.id));
    });
  }

  async updateDocument(documentId: string, update: DocumentUpdate): Promise<DocumentRecord | null> {
    return this.#run(async () => {
      const fields: Partial<Record<keyof DocumentRecord, unknown>> = { updatedAt: this.#now().toISOString() };
      if (update.status !== undefined) fields.status = update.status;
      if (update.progress !== undefined) fields.progress = update.progress;
      if (update.pages !== undefined) fields.pages = update.pages;
      if (update.chunks !== undefined) fields.chunks = update.chunks;
      if (update.type !== undefined) fields.type = update.type;
      if (update.error !== undefined) fields.error = update.error;
      const pairs = Object.entries(fields).flatMap(([name, value]) => [name, JSON.stringify(value)]);
      const hash = await this.#client.passageUpdateDocument(this.#prefix, documentId, ...pairs);
      return hash === null ? null : toDocument(flatToRecord(hash));
    });
  }

  async claimDocument(documentId: string): Promise<DocumentRecord | null> {
    return this.#run(async () => {
      const hash = await this.#client.passageClaimDocument(this.#prefix, documentId, JSON.stringify(this.#now().toISOString()));
      return hash === null ? null : toDocument(flatToRecord(hash));
    });
  }

  async deleteDocument(knowledgeBaseId: string, documentId: string): Promise<boolean> {
    return this.#run(
      async () => (await this.#client.passageDeleteDocument(this.#prefix, knowledgeBaseId, documentId, JSON.stringify(knowledgeBaseId))) === 1,
    );
  }

  async close(): Promise<void> {
    try {
      await this.#client.quit();
    } catch (error) {
      // Already closed or never connected: nothing is left to release.
      this.#client.disconnect();
      if (!(error instanceof Error && error.message.includes('Connection is closed'))) throw toRedisError(error, 'catalog');
    }
  }

  async #documentsByIds(ids: string[]): Promise<DocumentRecord[]> {
    if (ids.length === 0) return [];
    const pipeline = this.#client.pipeline();
    for (const id of ids) pipeline.hgetall(this.#documentKey(id));
    // A document deleted between the two reads is simply not listed.
    return pipelineResults<Record<string, string>>(await pipeline.exec()).flatMap((hash) => {
      const document = toDocument(hash);
      return document === null ? [] : [document];
    });
  }

  #knowledgeBaseKey(id: string): string {
    return `${this.#prefix}kb:${id}`;
  }

  #documentKey(id: string): string {
    return `${this.#prefix}document:${id}`;
  }

  async #run<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw toRedisError(error, 'catalog');
    }
  }
}

function encodeFields(record: DocumentRecord): Record<string, string> {
  return Object.fromEntries(Object.entries(record).map(([name, value]) => [name, JSON.stringify(value)]));
}

function pipelineResults<T>(results: Array<[Error | null, unknown]> | null): T[] {
  if (results === null) throw new AppError('service_unavailable', 'A Redis pipeline was discarded', { retryable: true });
  return results.map(([error, value]) => {
    if (error !== null) throw error;
    return value as T;
  });
}

function flatToRecord(flat: string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let position = 0; position + 1 < flat.length; position += 2) record[flat[position]!] = flat[position + 1]!;
  return record;
}

function toKnowledgeBase(hash: Record<string, string>): KnowledgeBase | null {
  if (hash.id === undefined) return null;
  return { id: hash.id, name: hash.name ?? '', createdAt: hash.createdAt ?? '', generation: Number(hash.generation ?? 1) };
}

function toDocument(hash: Record<string, string>): DocumentRecord | null {
  if (hash.id === undefined) return null;
  const field = <T>(name: keyof DocumentRecord): T => JSON.parse(hash[name] ?? 'null') as T;
  return {
    id: field('id'),
    knowledgeBaseId: field('knowledgeBaseId'),
    name: field('name'),
    bytes: field('bytes'),
    contentHash: field('contentHash'),
    mediaType: field('mediaType'),
    type: field('type'),
    status: field('status'),
    progress: field('progress'),
    pages: field('pages'),
    chunks: field('chunks'),
    error: field('error'),
    attempts: field('attempts'),
    createdAt: field('createdAt'),
    updatedAt: field('updatedAt'),
  };
}
