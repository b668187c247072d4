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
import { catalogKeys, type CatalogKeys } from './catalog-keys.js';
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
  retryOutcome,
  switchGenerationScript,
  updateDocumentScript,
} from './catalog-scripts.js';
import { createRedisClient, type RedisClient } from './redis-client.js';
import { toRedisError } from './redis-error.js';

export interface RedisCatalogOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS); with `cluster`, one node of the cluster. */
  url: string;
  /**
   * Start of every key the catalog writes, so that several deployments (and tests) share one Redis.
   * The catalog's keys are `${keyPrefix}:catalog:...` (catalog-keys.ts). Default: `passage`.
   */
  keyPrefix?: string;
  /**
   * `true`: `url` is a node of a Redis Cluster, and the catalog keeps each knowledge base's keys
   * under one hash tag (catalog-keys.ts). Default: false (the standalone layout).
   */
  cluster?: boolean;
  /** Clock for timestamps (tests). Default: the system clock. */
  now?: () => Date;
  /** Where connection problems are reported (commands fail with service_unavailable meanwhile). Default: none. */
  logger?: Logger;
}

const scripts = {
  passageCreateKnowledgeBase: createKnowledgeBaseScript,
  passageBeginReindex: beginReindexScript,
  passageRenewReindex: renewReindexScript,
  passageAbandonReindex: abandonReindexScript,
  passageSwitchGeneration: switchGenerationScript,
  passageRecordDocumentGeneration: recordDocumentGenerationScript,
  passageCreateDocuments: createDocumentsScript,
  passageCompleteDocument: completeDocumentScript,
  passageUpdateDocument: updateDocumentScript,
  passageClaimDocument: claimDocumentScript,
  passageDeleteDocument: deleteDocumentScript,
  passageDeleteKnowledgeBase: deleteKnowledgeBaseScript,
} as const;

type ScriptName = keyof typeof scripts;
/** Each script is called with its number of keys, the keys, then its arguments. */
type CatalogClient = RedisClient & Record<ScriptName, (...args: Array<string | number>) => Promise<unknown>>;

/** Reads repeated when the keys a script needs changed between the read and the script (catalog-scripts.ts). */
const maxScriptRetries = 20;

/**
 * The catalog in Redis, shared by every API replica and worker. Each knowledge base and document
 * is a hash; sorted sets scored by creation time keep the lists in order (all knowledge bases, the
 * documents of one knowledge base, the documents in each status). A knowledge base's hash holds
 * its live generation, that generation's schema and the reindex state (JSON); per knowledge base a
 * hash maps content hashes to documents (duplicate uploads), and per document a hash maps the
 * generations it is complete in to its chunk counts. Every change that touches more than one key,
 * or reads before it writes, runs as one Lua script (catalog-scripts.ts) on the keys of one
 * knowledge base, so it is atomic: a claim never races a delete, an update never brings a deleted
 * document back, and a switch never misses a document completed meanwhile.
 *
 * The list of knowledge bases (and, on a Redis Cluster, which knowledge base a document belongs
 * to) lives apart from a knowledge base's keys and is written in a step of its own: an id is listed
 * before its knowledge base is created and unlisted after it is deleted, so a reader may find a
 * listed id without a knowledge base (skipped), never a knowledge base that is not listed.
 *
 * Reindex leases are compared with this process's clock (`now`), so processes sharing a catalog
 * need clocks that agree to well within a lease.
 */
export class RedisCatalog implements Catalog {
  readonly #client: CatalogClient;
  readonly #keys: CatalogKeys;
  readonly #now: () => Date;

  constructor(options: RedisCatalogOptions) {
    this.#keys = catalogKeys(options.keyPrefix ?? 'passage', options.cluster ?? false);
    this.#now = options.now ?? (() => new Date());
    const client = createRedisClient({
      url: options.url,
      cluster: options.cluster ?? false,
      connectionName: 'passage-catalog',
      // Fail a command after two reconnection attempts (about a second) instead of ioredis's 20: the
      // API answers 503 and a worker's job is retried, rather than both hanging while Redis is down.
      maxRetriesPerRequest: 2,
    });
    // Connection problems also surface as rejected commands (mapped to service_unavailable); a
    // listener keeps ioredis from printing them as unhandled.
    const logger = options.logger ?? silentLogger;
    client.on('error', (error: Error) => logger.warn({ err: error }, 'Redis connection problem (catalog)'));
    for (const [name, lua] of Object.entries(scripts)) client.defineCommand(name, { lua });
    this.#client = client as CatalogClient;
  }

  async createKnowledgeBase(input: { id: string; name: string; schema: GenerationSchema }): Promise<KnowledgeBase> {
    return this.#run(async () => {
      const createdAt = this.#now();
      const schema: GenerationSchema = { embeddingModel: input.schema.embeddingModel, denseDimensions: input.schema.denseDimensions };
      // Listed first: an id listed without its knowledge base is skipped by readers (see the class).
      await this.#client.zadd(this.#keys.knowledgeBases, 'NX', createdAt.getTime(), input.id);
      const created = await this.#script<number>(
        'passageCreateKnowledgeBase',
        [this.#keys.knowledgeBase(input.id)],
        [input.id, input.name, createdAt.toISOString(), JSON.stringify(schema)],
      );
      if (created !== 1) throw new AppError('internal_error', `Knowledge base ${input.id} already exists`);
      return { id: input.id, name: input.name, createdAt: createdAt.toISOString(), generation: 1, schema, reindex: null };
    });
  }

  async getKnowledgeBase(id: string): Promise<KnowledgeBase | null> {
    return this.#run(async () => toKnowledgeBase(await this.#client.hgetall(this.#keys.knowledgeBase(id))));
  }

  async listKnowledgeBases(): Promise<KnowledgeBase[]> {
    return this.#run(async () => {
      const ids = await this.#client.zrange(this.#keys.knowledgeBases, '0', '-1');
      // One key per knowledge base, each in a slot of its own on a cluster: separate commands, which
      // ioredis sends without waiting for each other.
      const hashes = await Promise.all(ids.map((id) => this.#client.hgetall(this.#keys.knowledgeBase(id))));
      return hashes.flatMap((hash) => {
        const knowledgeBase = toKnowledgeBase(hash);
        return knowledgeBase === null ? [] : [knowledgeBase];
      });
    });
  }

  async deleteKnowledgeBase(id: string): Promise<boolean> {
    return this.#run(async () => {
      const keys = this.#keys;
      let deletedIds: string[] = [];
      const deleted = await this.#retrying(async () => {
        deletedIds = await this.#client.zrange(keys.documents(id), '0', '-1');
        return this.#script<number>(
          'passageDeleteKnowledgeBase',
          [
            ...keys.statuses(id),
            keys.knowledgeBase(id),
            keys.documents(id),
            keys.hashes(id),
            ...deletedIds.flatMap((documentId) => [keys.document(id, documentId), keys.generations(id, documentId)]),
          ],
          deletedIds,
        );
      });
      await this.#forgetDocuments(deleted === 1 ? deletedIds : []);
      await this.#client.zrem(keys.knowledgeBases, id);
      return deleted === 1;
    });
  }

  async beginReindex(knowledgeBaseId: string, input: { owner: string; leaseMs: number; schema: GenerationSchema }): Promise<ReindexLease> {
    return this.#run(async () => {
      const now = this.#now();
      const schema: GenerationSchema = { embeddingModel: input.schema.embeddingModel, denseDimensions: input.schema.denseDimensions };
      const [outcome, stored] = await this.#script<string[]>(
        'passageBeginReindex',
        [this.#keys.knowledgeBase(knowledgeBaseId)],
        [input.owner, now.toISOString(), new Date(now.getTime() + input.leaseMs).toISOString(), JSON.stringify(schema)],
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
      return (await this.#script<number>('passageRenewReindex', [this.#keys.knowledgeBase(knowledgeBaseId)], [input.owner, leaseEnd, progress])) === 1;
    });
  }

  async abandonReindex(knowledgeBaseId: string, owner: string): Promise<void> {
    await this.#run(() => this.#script<number>('passageAbandonReindex', [this.#keys.knowledgeBase(knowledgeBaseId)], [owner]));
  }

  async switchGeneration(knowledgeBaseId: string, input: { owner: string; targetGeneration: number }): Promise<GenerationSwitch> {
    return this.#run(async () => {
      const keys = this.#keys;
      const [outcome, ...rest] = await this.#retrying(async () => {
        const ids = await this.#client.zrange(keys.documents(knowledgeBaseId), '0', '-1');
        const answer = await this.#script<string[]>(
          'passageSwitchGeneration',
          [
            keys.knowledgeBase(knowledgeBaseId),
            keys.documents(knowledgeBaseId),
            ...ids.flatMap((id) => [keys.document(knowledgeBaseId, id), keys.generations(knowledgeBaseId, id)]),
          ],
          [input.owner, String(input.targetGeneration), ...ids],
        );
        return answer[0] === 'retry' ? retryOutcome : answer;
      });
      if (outcome === 'not_found') throw knowledgeBaseNotFound(knowledgeBaseId);
      if (outcome === 'conflict') {
        throw new ConflictError('reindex_in_progress', `The reindex of knowledge base ${knowledgeBaseId} is no longer held by this process`);
      }
      if (outcome === 'missing') return { switched: false, missing: rest };
      return { switched: true, previousGeneration: Number(rest[0]) };
    });
  }

  async recordDocumentGeneration(documentId: string, generation: number, chunks: number): Promise<void> {
    await this.#run(async () => {
      const knowledgeBaseId = await this.#knowledgeBaseOf(documentId);
      if (knowledgeBaseId === null) return;
      await this.#script<number>(
        'passageRecordDocumentGeneration',
        [this.#keys.document(knowledgeBaseId, documentId), this.#keys.generations(knowledgeBaseId, documentId)],
        [String(generation), String(chunks)],
      );
    });
  }

  async documentsInGeneration(knowledgeBaseId: string, generation: number): Promise<Map<string, number>> {
    return this.#run(async () => {
      const ids = await this.#client.zrange(this.#keys.documents(knowledgeBaseId), '0', '-1');
      if (ids.length === 0) return new Map<string, number>();
      const pipeline = this.#client.pipeline();
      for (const id of ids) pipeline.hget(this.#keys.generations(knowledgeBaseId, id), String(generation));
      const counts = pipelineResults<string | null>(await pipeline.exec());
      return new Map(ids.flatMap((id, position) => (counts[position] == null ? [] : [[id, Number(counts[position])] as const])));
    });
  }

  async searchableDocuments(knowledgeBaseId: string, documentIds: string[]): Promise<Set<string>> {
    const unique = [...new Set(documentIds)];
    if (unique.length === 0) return new Set();
    return this.#run(async () => {
      const pipeline = this.#client.pipeline();
      for (const id of unique) pipeline.hmget(this.#keys.document(knowledgeBaseId, id), 'knowledgeBaseId', 'status');
      const fields = pipelineResults<Array<string | null>>(await pipeline.exec());
      const knowledgeBase = JSON.stringify(knowledgeBaseId);
      return new Set(unique.filter((_, position) => fields[position]?.[0] === knowledgeBase && fields[position]?.[1] === '"ready"'));
    });
  }

  /**
   * Records the uploads of each knowledge base in one step (one script per knowledge base: an upload
   * request names one).
   */
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
      const created = new Map<string, CreatedDocument>();
      for (const [knowledgeBaseId, group] of groupBy(records, (record) => record.knowledgeBaseId)) {
        for (const entry of await this.#createDocumentsOf(knowledgeBaseId, group)) created.set(entry.id, entry.created);
      }
      return records.map((record) => created.get(record.id)!);
    });
  }

  async findDocumentByName(knowledgeBaseId: string, name: string): Promise<DocumentRecord | null> {
    return this.#run(async () => {
      // Newest first; the first of that name wins.
      const ids = await this.#client.zrevrange(this.#keys.documents(knowledgeBaseId), '0', '-1');
      if (ids.length === 0) return null;
      const pipeline = this.#client.pipeline();
      for (const id of ids) pipeline.hget(this.#keys.document(knowledgeBaseId, id), 'name');
      const names = pipelineResults<string | null>(await pipeline.exec());
      const wanted = JSON.stringify(name);
      const position = names.findIndex((stored) => stored === wanted);
      return position === -1 ? null : this.getDocument(knowledgeBaseId, ids[position]!);
    });
  }

  async getDocument(knowledgeBaseId: string, documentId: string): Promise<DocumentRecord | null> {
    return this.#run(async () => {
      const document = toDocument(await this.#client.hgetall(this.#keys.document(knowledgeBaseId, documentId)));
      return document !== null && document.knowledgeBaseId === knowledgeBaseId ? document : null;
    });
  }

  async listDocuments(knowledgeBaseId: string): Promise<DocumentRecord[]> {
    return this.#run(async () => this.#documentsByIds(knowledgeBaseId, await this.#client.zrange(this.#keys.documents(knowledgeBaseId), '0', '-1')));
  }

  async listDocumentsByStatus(statuses: DocumentStatus[]): Promise<DocumentRecord[]> {
    if (statuses.length === 0) return [];
    return this.#run(async () => {
      const keys = this.#keys;
      // Standalone: one set per status for every knowledge base (the documents' keys do not depend
      // on the knowledge base, so '' stands for it); cluster: the sets of each knowledge base.
      const knowledgeBaseIds = keys.statusesPerKnowledgeBase ? await this.#client.zrange(keys.knowledgeBases, '0', '-1') : [''];
      const perKnowledgeBase = await Promise.all(
        knowledgeBaseIds.map(async (knowledgeBaseId) => {
          const pipeline = this.#client.pipeline();
          for (const status of new Set(statuses)) pipeline.zrange(keys.status(knowledgeBaseId, status), '0', '-1', 'WITHSCORES');
          const entries: Array<{ knowledgeBaseId: string; id: string; score: number }> = [];
          for (const flat of pipelineResults<string[]>(await pipeline.exec())) {
            for (let position = 0; position + 1 < flat.length; position += 2) {
              entries.push({ knowledgeBaseId, id: flat[position]!, score: Number(flat[position + 1]) });
            }
          }
          return entries;
        }),
      );
      const entries = perKnowledgeBase.flat();
      // Oldest first, ties by id: the order a single sorted set would give.
      entries.sort((left, right) => left.score - right.score || (left.id < right.id ? -1 : left.id > right.id ? 1 : 0));
      const found = new Map<string, DocumentRecord>();
      await Promise.all(
        [...groupBy(entries, (entry) => entry.knowledgeBaseId)].map(async ([knowledgeBaseId, group]) => {
          for (const document of await this.#documentsByIds(
            knowledgeBaseId,
            group.map((entry) => entry.id),
          ))
            found.set(document.id, document);
        }),
      );
      return entries.flatMap((entry) => {
        const document = found.get(entry.id);
        return document === undefined ? [] : [document];
      });
    });
  }

  async updateDocument(documentId: string, update: DocumentUpdate): Promise<DocumentRecord | null> {
    return this.#run(async () => {
      const knowledgeBaseId = await this.#knowledgeBaseOf(documentId);
      if (knowledgeBaseId === null) return null;
      const fields: Partial<Record<keyof DocumentRecord, unknown>> = { updatedAt: this.#now().toISOString() };
      if (update.status !== undefined) fields.status = update.status;
      if (update.progress !== undefined) fields.progress = update.progress;
      if (update.pages !== undefined) fields.pages = update.pages;
      if (update.chunks !== undefined) fields.chunks = update.chunks;
      if (update.type !== undefined) fields.type = update.type;
      if (update.error !== undefined) fields.error = update.error;
      const pairs = Object.entries(fields).flatMap(([name, value]) => [name, JSON.stringify(value)]);
      const hash = await this.#script<string[] | null>(
        'passageUpdateDocument',
        [...this.#keys.statuses(knowledgeBaseId), this.#keys.document(knowledgeBaseId, documentId)],
        [documentId, ...pairs],
      );
      return hash === null ? null : toDocument(flatToRecord(hash));
    });
  }

  async completeDocument(documentId: string, chunks: number): Promise<{ document: DocumentRecord; replaced: string | null } | null> {
    return this.#run(async () => {
      const knowledgeBaseId = await this.#knowledgeBaseOf(documentId);
      if (knowledgeBaseId === null) return null;
      const keys = this.#keys;
      const fields: Partial<Record<keyof DocumentRecord, unknown>> = {
        status: 'ready',
        chunks,
        progress: { stage: 'done', done: chunks, total: chunks },
        error: null,
        updatedAt: this.#now().toISOString(),
      };
      const pairs = Object.entries(fields).flatMap(([name, value]) => [name, JSON.stringify(value)]);
      const result = await this.#retrying(async () => {
        const stored = JSON.parse((await this.#client.hget(keys.document(knowledgeBaseId, documentId), 'replaces')) ?? 'null') as unknown;
        const replaces = typeof stored === 'string' && stored !== documentId ? stored : '';
        const replacedId = replaces === '' ? documentId : replaces;
        return this.#script<string[] | null>(
          'passageCompleteDocument',
          [
            ...keys.statuses(knowledgeBaseId),
            keys.document(knowledgeBaseId, documentId),
            keys.documents(knowledgeBaseId),
            keys.hashes(knowledgeBaseId),
            keys.document(knowledgeBaseId, replacedId),
            keys.generations(knowledgeBaseId, replacedId),
          ],
          [documentId, replaces, ...pairs],
        );
      });
      if (result === null) return null;
      const [replaced, ...flat] = result;
      const replacedId = replaced === '' || replaced === undefined ? null : replaced;
      if (replacedId !== null) await this.#forgetDocuments([replacedId]);
      return { document: toDocument(flatToRecord(flat))!, replaced: replacedId };
    });
  }

  async claimDocument(documentId: string): Promise<DocumentRecord | null> {
    return this.#run(async () => {
      const knowledgeBaseId = await this.#knowledgeBaseOf(documentId);
      if (knowledgeBaseId === null) return null;
      const hash = await this.#script<string[] | null>(
        'passageClaimDocument',
        [...this.#keys.statuses(knowledgeBaseId), this.#keys.document(knowledgeBaseId, documentId)],
        [documentId, JSON.stringify(this.#now().toISOString())],
      );
      return hash === null ? null : toDocument(flatToRecord(hash));
    });
  }

  async deleteDocument(knowledgeBaseId: string, documentId: string): Promise<boolean> {
    return this.#run(async () => {
      const keys = this.#keys;
      const deleted = await this.#script<number>(
        'passageDeleteDocument',
        [
          ...keys.statuses(knowledgeBaseId),
          keys.document(knowledgeBaseId, documentId),
          keys.generations(knowledgeBaseId, documentId),
          keys.documents(knowledgeBaseId),
          keys.hashes(knowledgeBaseId),
        ],
        [documentId, JSON.stringify(knowledgeBaseId)],
      );
      if (deleted === 1) await this.#forgetDocuments([documentId]);
      return deleted === 1;
    });
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

  /** Creates the documents of one knowledge base; returns each with its outcome, by id. */
  async #createDocumentsOf(knowledgeBaseId: string, records: DocumentRecord[]): Promise<Array<{ id: string; created: CreatedDocument }>> {
    const keys = this.#keys;
    const tracked = records.map((record) => keys.documentKnowledgeBase(record.id));
    // Which knowledge base a document belongs to is written before the document: a leftover of an
    // upload that failed points at a document that does not exist, which reads as "gone".
    await Promise.all(tracked.flatMap((key) => (key === null ? [] : [this.#client.set(key, knowledgeBaseId)])));
    const result = await this.#retrying(async () => {
      const earlier = await this.#client.hmget(keys.hashes(knowledgeBaseId), ...records.map((record) => record.contentHash));
      return this.#script<number | string[][]>(
        'passageCreateDocuments',
        [
          ...keys.statuses(knowledgeBaseId),
          keys.knowledgeBase(knowledgeBaseId),
          keys.documents(knowledgeBaseId),
          keys.hashes(knowledgeBaseId),
          ...records.flatMap((record, position) => [keys.document(knowledgeBaseId, record.id), keys.document(knowledgeBaseId, earlier[position] ?? record.id)]),
        ],
        records.flatMap((record, position) => [
          record.id,
          String(Date.parse(record.createdAt)),
          record.contentHash,
          JSON.stringify(encodeFields(record)),
          earlier[position] ?? '',
        ]),
      );
    });
    if (typeof result === 'number') {
      await this.#forgetDocuments(records.map((record) => record.id));
      if (result === -1) throw new NotFoundError('knowledge_base_not_found', 'The knowledge base does not exist');
      if (result === -2) throw new AppError('internal_error', 'A document id is already taken');
      throw new AppError('internal_error', `Unexpected answer ${result} from the document creation script`);
    }
    const entries = result.map(([outcome, ...flat], position) => ({
      id: records[position]!.id,
      created: { document: toDocument(flatToRecord(flat))!, duplicate: outcome === 'duplicate' },
    }));
    await this.#forgetDocuments(entries.filter((entry) => entry.created.duplicate).map((entry) => entry.id));
    return entries;
  }

  /** Drops what tells which knowledge base these (deleted or never created) documents belong to. */
  async #forgetDocuments(documentIds: string[]): Promise<void> {
    await Promise.all(
      documentIds.flatMap((id) => {
        const key = this.#keys.documentKnowledgeBase(id);
        return key === null ? [] : [this.#client.unlink(key)];
      }),
    );
  }

  /** The knowledge base a document belongs to, or null when it does not exist. */
  async #knowledgeBaseOf(documentId: string): Promise<string | null> {
    const key = this.#keys.documentKnowledgeBase(documentId);
    if (key !== null) return this.#client.get(key);
    // Standalone: the document's key does not depend on its knowledge base; its hash names it.
    const stored = await this.#client.hget(this.#keys.document('', documentId), 'knowledgeBaseId');
    return stored === null ? null : (JSON.parse(stored) as string);
  }

  async #documentsByIds(knowledgeBaseId: string, ids: string[]): Promise<DocumentRecord[]> {
    if (ids.length === 0) return [];
    const pipeline = this.#client.pipeline();
    for (const id of ids) pipeline.hgetall(this.#keys.document(knowledgeBaseId, id));
    // A document deleted between the two reads is simply not listed.
    return pipelineResults<Record<string, string>>(await pipeline.exec()).flatMap((hash) => {
      const document = toDocument(hash);
      return document === null ? [] : [document];
    });
  }

  #script<T>(name: ScriptName, keys: string[], args: string[]): Promise<T> {
    return this.#client[name](keys.length, ...keys, ...args) as Promise<T>;
  }

  /** Runs `work` again while it answers `retry` (what it read changed before its script ran). */
  async #retrying<T>(work: () => Promise<T | typeof retryOutcome>): Promise<T> {
    for (let attempt = 1; attempt <= maxScriptRetries; attempt += 1) {
      const outcome = await work();
      if (outcome !== retryOutcome) return outcome;
    }
    throw new AppError('service_unavailable', 'The catalog changed under every attempt of a change; try again', { retryable: true });
  }

  async #run<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw toRedisError(error, 'catalog');
    }
  }
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(key(item));
    if (group === undefined) groups.set(key(item), [item]);
    else group.push(item);
  }
  return groups;
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
