import { Redis } from 'ioredis';
import {
  AppError,
  ConflictError,
  NotFoundError,
  silentLogger,
  type Catalog,
  type CreatedDocument,
  type DocumentRecord,
  type DocumentStatus,
  type DocumentUpdate,
  type GenerationSchema,
  type GenerationSwitch,
  type KnowledgeBase,
  type Logger,
  type NewDocument,
  type ReindexLease,
  type ReindexProgress,
  type ReindexState,
} from '@passage/spec';
import {
  abandonReindexScript,
  beginReindexScript,
  claimDocumentScript,
  completeDocumentScript,
  createDocumentsScript,
  createKnowledgeBaseScript,
  deleteDocumentScript,
  deleteKnowledgeBaseScript,
  recordDocumentGenerationScript,
  renewReindexScript,
  switchGenerationScript,
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
  passageBeginReindex(...args: string[]): Promise<string[]>;
  passageRenewReindex(...args: string[]): Promise<number>;
  passageAbandonReindex(...args: string[]): Promise<number>;
  passageSwitchGeneration(...args: string[]): Promise<string[]>;
  passageRecordDocumentGeneration(...args: string[]): Promise<number>;
  passageCreateDocuments(...args: string[]): Promise<number | string[][]>;
  passageCompleteDocument(...args: string[]): Promise<string[] | null>;
  passageUpdateDocument(...args: string[]): Promise<string[] | null>;
  passageClaimDocument(...args: string[]): Promise<string[] | null>;
  passageDeleteDocument(...args: string[]): Promise<number>;
  passageDeleteKnowledgeBase(...args: string[]): Promise<number>;
}

type CatalogClient = Redis & CatalogCommands;

/**
 * The catalog in Redis, shared by every API replica and worker. Each knowledge base and document
 * is a hash; sorted sets scored by creation time keep the lists in order (all knowledge bases, the
 * documents of one knowledge base, the documents in each status). A knowledge base's hash holds
 * its live generation, that generation's schema and the reindex state (JSON); per knowledge base a
 * hash maps content hashes to documents (duplicate uploads), and per document a hash maps the
 * generations it is complete in to its chunk counts. Every change that touches more than one key,
 * or reads before it writes, runs as one Lua script (catalog-scripts.ts), so it is atomic: a claim
 * never races a delete, an update never brings a deleted document back, and a switch never misses
 * a document completed meanwhile.
 *
 * Reindex leases are compared with this process's clock (`now`), so processes sharing a catalog
 * need clocks that agree to well within a lease.
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
    client.defineCommand('passageBeginReindex', { lua: beginReindexScript, numberOfKeys: 0 });
    client.defineCommand('passageRenewReindex', { lua: renewReindexScript, numberOfKeys: 0 });
    client.defineCommand('passageAbandonReindex', { lua: abandonReindexScript, numberOfKeys: 0 });
    client.defineCommand('passageSwitchGeneration', { lua: switchGenerationScript, numberOfKeys: 0 });
    client.defineCommand('passageRecordDocumentGeneration', { lua: recordDocumentGenerationScript, numberOfKeys: 0 });
    client.defineCommand('passageCompleteDocument', { lua: completeDocumentScript, numberOfKeys: 0 });
    client.defineCommand('passageCreateDocuments', { lua: createDocumentsScript, numberOfKeys: 0 });
    client.defineCommand('passageUpdateDocument', { lua: updateDocumentScript, numberOfKeys: 0 });
    client.defineCommand('passageClaimDocument', { lua: claimDocumentScript, numberOfKeys: 0 });
    client.defineCommand('passageDeleteDocument', { lua: deleteDocumentScript, numberOfKeys: 0 });
    client.defineCommand('passageDeleteKnowledgeBase', { lua: deleteKnowledgeBaseScript, numberOfKeys: 0 });
    this.#client = client as CatalogClient;
  }

  async createKnowledgeBase(input: { id: string; name: string; schema: GenerationSchema }): Promise<KnowledgeBase> {
    return this.#run(async () => {
      const createdAt = this.#now();
      const schema: GenerationSchema = { embeddingModel: input.schema.embeddingModel, denseDimensions: input.schema.denseDimensions };
      const created = await this.#client.passageCreateKnowledgeBase(
        this.#prefix,
        input.id,
        input.name,
        createdAt.toISOString(),
        String(createdAt.getTime()),
        JSON.stringify(schema),
      );
      if (created !== 1) throw new AppError('internal_error', `Knowledge base ${input.id} already exists`);
      return { id: input.id, name: input.name, createdAt: createdAt.toISOString(), generation: 1, schema, reindex: null };
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

  async beginReindex(knowledgeBaseId: string, input: { owner: string; leaseMs: number; schema: GenerationSchema }): Promise<ReindexLease> {
    return this.#run(async () => {
      const now = this.#now();
      const schema: GenerationSchema = { embeddingModel: input.schema.embeddingModel, denseDimensions: input.schema.denseDimensions };
      const [outcome, stored] = await this.#client.passageBeginReindex(
        this.#prefix,
        knowledgeBaseId,
        input.owner,
        now.toISOString(),
        new Date(now.getTime() + input.leaseMs).toISOString(),
        JSON.stringify(schema),
      );
      if (outcome === 'not_found') throw knowledgeBaseNotFound(knowledgeBaseId);
      const state = JSON.parse(stored!) as ReindexState;
      if (outcome === 'conflict') throw reindexInProgress(knowledgeBaseId, state);
      return { state, resumed: outcome === 'resumed' };
    });
  }

  async renewReindex(knowledgeBaseId: string, input: { owner: string; leaseMs: number; progress?: ReindexProgress }): Promise<boolean> {
    return this.#run(async () => {
      const leaseEnd = new Date(this.#now().getTime() + input.leaseMs).toISOString();
      const progress = input.progress === undefined ? '' : JSON.stringify(input.progress);
      return (await this.#client.passageRenewReindex(this.#prefix, knowledgeBaseId, input.owner, leaseEnd, progress)) === 1;
    });
  }

  async abandonReindex(knowledgeBaseId: string, owner: string): Promise<void> {
    await this.#run(() => this.#client.passageAbandonReindex(this.#prefix, knowledgeBaseId, owner));
  }

  async switchGeneration(knowledgeBaseId: string, input: { owner: string; targetGeneration: number }): Promise<GenerationSwitch> {
    return this.#run(async () => {
      const [outcome, ...rest] = await this.#client.passageSwitchGeneration(this.#prefix, knowledgeBaseId, input.owner, String(input.targetGeneration));
      if (outcome === 'not_found') throw knowledgeBaseNotFound(knowledgeBaseId);
      if (outcome === 'conflict') {
        throw new ConflictError('reindex_in_progress', `The reindex of knowledge base ${knowledgeBaseId} is no longer held by this process`);
      }
      if (outcome === 'missing') return { switched: false, missing: rest };
      return { switched: true, previousGeneration: Number(rest[0]) };
    });
  }

  async recordDocumentGeneration(documentId: string, generation: number, chunks: number): Promise<void> {
    await this.#run(() => this.#client.passageRecordDocumentGeneration(this.#prefix, documentId, String(generation), String(chunks)));
  }

  async documentsInGeneration(knowledgeBaseId: string, generation: number): Promise<Map<string, number>> {
    return this.#run(async () => {
      const ids = await this.#client.zrange(`${this.#knowledgeBaseKey(knowledgeBaseId)}:documents`, '0', '-1');
      if (ids.length === 0) return new Map<string, number>();
      const pipeline = this.#client.pipeline();
      for (const id of ids) pipeline.hget(`${this.#documentKey(id)}:generations`, String(generation));
      const counts = pipelineResults<string | null>(await pipeline.exec());
      return new Map(ids.flatMap((id, position) => (counts[position] == null ? [] : [[id, Number(counts[position])] as const])));
    });
  }

  async searchableDocuments(knowledgeBaseId: string, documentIds: string[]): Promise<Set<string>> {
    const unique = [...new Set(documentIds)];
    if (unique.length === 0) return new Set();
    return this.#run(async () => {
      const pipeline = this.#client.pipeline();
      for (const id of unique) pipeline.hmget(this.#documentKey(id), 'knowledgeBaseId', 'status');
      const fields = pipelineResults<Array<string | null>>(await pipeline.exec());
      const knowledgeBase = JSON.stringify(knowledgeBaseId);
      return new Set(unique.filter((_, position) => fields[position]?.[0] === knowledgeBase && fields[position]?.[1] === '"ready"'));
    });
  }

  async createDocuments(documents: NewDocument[]): Promise<CreatedDocument[]> {
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
          replaces: document.replaces ?? null,
          createdAt,
          updatedAt: createdAt,
        };
      });
      const argumentsList = records.flatMap((record) => [
        record.knowledgeBaseId,
        record.id,
        String(Date.parse(record.createdAt)),
        record.contentHash,
        JSON.stringify(encodeFields(record)),
      ]);
      const result = await this.#client.passageCreateDocuments(this.#prefix, ...argumentsList);
      if (result === -1) throw new NotFoundError('knowledge_base_not_found', 'The knowledge base does not exist');
      if (result === -2) throw new AppError('internal_error', 'A document id is already taken');
      if (typeof result === 'number') throw new AppError('internal_error', `Unexpected answer ${result} from the document creation script`);
      return result.map(([outcome, ...flat]) => ({ document: toDocument(flatToRecord(flat))!, duplicate: outcome === 'duplicate' }));
    });
  }

  async findDocumentByName(knowledgeBaseId: string, name: string): Promise<DocumentRecord | null> {
    return this.#run(async () => {
      // Newest first; the first of that name wins.
      const ids = await this.#client.zrevrange(`${this.#knowledgeBaseKey(knowledgeBaseId)}:documents`, '0', '-1');
      if (ids.length === 0) return null;
      const pipeline = this.#client.pipeline();
      for (const id of ids) pipeline.hget(this.#documentKey(id), 'name');
      const names = pipelineResults<string | null>(await pipeline.exec());
      const wanted = JSON.stringify(name);
      const position = names.findIndex((stored) => stored === wanted);
      return position === -1 ? null : this.getDocument(knowledgeBaseId, ids[position]!);
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

  async completeDocument(documentId: string, chunks: number): Promise<{ document: DocumentRecord; replaced: string | null } | null> {
    return this.#run(async () => {
      const fields: Partial<Record<keyof DocumentRecord, unknown>> = {
        status: 'ready',
        chunks,
        progress: { stage: 'done', done: chunks, total: chunks },
        error: null,
        updatedAt: this.#now().toISOString(),
      };
      const pairs = Object.entries(fields).flatMap(([name, value]) => [name, JSON.stringify(value)]);
      const result = await this.#client.passageCompleteDocument(this.#prefix, documentId, ...pairs);
      if (result === null) return null;
      const [replaced, ...flat] = result;
      return { document: toDocument(flatToRecord(flat))!, replaced: replaced === '' || replaced === undefined ? null : replaced };
    });
  }

  async claimDocument(documentId: string): Promise<DocumentRecord | null> {
    return this.#run(async () => {
      const hash = await this.#client.passageClaimDocument(this.#prefix, documentId, JSON.stringify(this.#now().toISOString()));
      return hash === null ? null : toDocument(flatToRecord(hash));
    });
  }

  async deleteDocument(knowledgeBaseId: string, documentId: string): Promise<boolean> {
    return this.#run(async () => (await this.#client.passageDeleteDocument(this.#prefix, knowledgeBaseId, documentId, JSON.stringify(knowledgeBaseId))) === 1);
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
  return {
    id: hash.id,
    name: hash.name ?? '',
    createdAt: hash.createdAt ?? '',
    generation: Number(hash.generation ?? 1),
    // Knowledge bases recorded before generations had schemas were lexical unless reindexed.
    schema: hash.schema === undefined ? { embeddingModel: null, denseDimensions: null } : (JSON.parse(hash.schema) as GenerationSchema),
    reindex: hash.reindex === undefined ? null : (JSON.parse(hash.reindex) as ReindexState),
  };
}

function knowledgeBaseNotFound(knowledgeBaseId: string): NotFoundError {
  return new NotFoundError('knowledge_base_not_found', `Knowledge base ${knowledgeBaseId} does not exist`);
}

function reindexInProgress(knowledgeBaseId: string, state: ReindexState): ConflictError {
  return new ConflictError(
    'reindex_in_progress',
    `Knowledge base ${knowledgeBaseId} is being reindexed into generation ${state.targetGeneration} by ${state.owner} ` +
      `(lease until ${state.leaseExpiresAt}); wait for it to finish, or run again after the lease expires to resume it`,
    { targetGeneration: state.targetGeneration, owner: state.owner, leaseExpiresAt: state.leaseExpiresAt },
  );
}

function toDocument(hash: Record<string, string>): DocumentRecord | null {
  if (hash.id === undefined) return null;
  const field = <Name extends keyof DocumentRecord>(name: Name): DocumentRecord[Name] => JSON.parse(hash[name] ?? 'null') as DocumentRecord[Name];
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
    replaces: field('replaces'),
    createdAt: field('createdAt'),
    updatedAt: field('updatedAt'),
  };
}
