import {
  ConflictError,
  NotFoundError,
  reindexInProgressError,
  type Catalog,
  type CreatedDocument,
  type DocumentRecord,
  type DocumentStatus,
  type DocumentUpdate,
  type GenerationSchema,
  type GenerationSwitch,
  type IngestionStage,
  type KnowledgeBase,
  type NewDocument,
  type ReindexLease,
  type ReindexProgress,
  type ReindexState,
} from '@passage/spec';
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './database.js';

interface KnowledgeBaseRow {
  id: string;
  name: string;
  created_at: string;
  generation: number;
  embedding_model: string | null;
  dense_dimensions: number | null;
  /** ReindexState as JSON, or null. */
  reindex: string | null;
}

interface DocumentRow {
  id: string;
  knowledge_base_id: string;
  name: string;
  bytes: number;
  content_hash: string;
  media_type: string | null;
  type: DocumentRecord['type'];
  status: DocumentStatus;
  progress_stage: IngestionStage;
  progress_done: number;
  progress_total: number;
  pages: number | null;
  chunks: number | null;
  error_code: string | null;
  error_message: string | null;
  attempts: number;
  replaces: string | null;
  created_at: string;
  updated_at: string;
}

function reindexStateOf(row: KnowledgeBaseRow): ReindexState | null {
  return row.reindex === null ? null : (JSON.parse(row.reindex) as ReindexState);
}

function toKnowledgeBase(row: KnowledgeBaseRow): KnowledgeBase {
  return {
    id: row.id,
    name: row.name,
    createdAt: row.created_at,
    generation: row.generation,
    schema: { embeddingModel: row.embedding_model, denseDimensions: row.dense_dimensions },
    reindex: reindexStateOf(row),
  };
}

function toDocument(row: DocumentRow): DocumentRecord {
  return {
    id: row.id,
    knowledgeBaseId: row.knowledge_base_id,
    name: row.name,
    bytes: row.bytes,
    contentHash: row.content_hash,
    mediaType: row.media_type,
    type: row.type,
    status: row.status,
    progress: { stage: row.progress_stage, done: row.progress_done, total: row.progress_total },
    pages: row.pages,
    chunks: row.chunks,
    error: row.error_code === null ? null : { code: row.error_code, message: row.error_message ?? '' },
    attempts: row.attempts,
    replaces: row.replaces,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Longest IN list whose statement is kept compiled: a search asks for at most 50 passages, and a few more after a drop. */
const maxCachedListLength = 128;

/**
 * The catalog in the embedded SQLite database. better-sqlite3 is synchronous; each call is a
 * single indexed statement on a local WAL database, which costs microseconds, so the methods are
 * async only to honour the port that the Redis catalog also implements.
 */
export class SqliteCatalog implements Catalog {
  readonly #database: SqliteDatabase;
  /** Run on every question: compiled once, since compiling cost more than running it. */
  readonly #getKnowledgeBase: Statement;
  /** `searchableDocuments`' statements by the length of their IN list. */
  readonly #searchableStatements = new Map<number, Statement>();
  readonly #now: () => Date;

  constructor(database: SqliteDatabase, options: { now?: () => Date } = {}) {
    this.#database = database;
    this.#getKnowledgeBase = database.prepare('SELECT * FROM knowledge_bases WHERE id = ?');
    this.#now = options.now ?? (() => new Date());
  }

  async createKnowledgeBase(input: { id: string; name: string; schema: GenerationSchema }): Promise<KnowledgeBase> {
    const row: KnowledgeBaseRow = {
      id: input.id,
      name: input.name,
      created_at: this.#timestamp(),
      generation: 1,
      embedding_model: input.schema.embeddingModel,
      dense_dimensions: input.schema.denseDimensions,
      reindex: null,
    };
    this.#database
      .prepare(
        `INSERT INTO knowledge_bases (id, name, created_at, generation, embedding_model, dense_dimensions, reindex)
         VALUES (@id, @name, @created_at, @generation, @embedding_model, @dense_dimensions, @reindex)`,
      )
      .run(row);
    return toKnowledgeBase(row);
  }

  async getKnowledgeBase(id: string): Promise<KnowledgeBase | null> {
    const row = this.#getKnowledgeBase.get(id) as KnowledgeBaseRow | undefined;
    return row === undefined ? null : toKnowledgeBase(row);
  }

  async listKnowledgeBases(): Promise<KnowledgeBase[]> {
    const rows = this.#database.prepare('SELECT * FROM knowledge_bases ORDER BY created_at, id').all() as KnowledgeBaseRow[];
    return rows.map(toKnowledgeBase);
  }

  async deleteKnowledgeBase(id: string): Promise<boolean> {
    return this.#database.prepare('DELETE FROM knowledge_bases WHERE id = ?').run(id).changes > 0;
  }

  async beginReindex(knowledgeBaseId: string, input: { owner: string; leaseMs: number; schema: GenerationSchema }): Promise<ReindexLease> {
    return this.#database
      .transaction((): ReindexLease => {
        const row = this.#getKnowledgeBase.get(knowledgeBaseId) as KnowledgeBaseRow | undefined;
        if (row === undefined) throw new NotFoundError('knowledge_base_not_found', `Knowledge base ${knowledgeBaseId} does not exist`);
        const now = this.#now();
        const leaseExpiresAt = new Date(now.getTime() + input.leaseMs).toISOString();
        const existing = reindexStateOf(row);
        let lease: ReindexLease;
        if (existing !== null) {
          if (existing.owner !== input.owner && Date.parse(existing.leaseExpiresAt) > now.getTime()) {
            throw reindexInProgressError(knowledgeBaseId, existing);
          }
          lease = { state: { ...existing, owner: input.owner, leaseExpiresAt }, resumed: true };
        } else {
          lease = {
            state: {
              targetGeneration: row.generation + 1,
              schema: input.schema,
              owner: input.owner,
              leaseExpiresAt,
              startedAt: now.toISOString(),
              progress: { documentsTotal: 0, documentsDone: 0, documentsFailed: 0, chunks: 0 },
            },
            resumed: false,
          };
          // Records of an abandoned attempt at the same target would claim documents it never finished.
          this.#database
            .prepare('DELETE FROM document_generations WHERE generation >= ? AND document_id IN (SELECT id FROM documents WHERE knowledge_base_id = ?)')
            .run(lease.state.targetGeneration, knowledgeBaseId);
        }
        this.#database.prepare('UPDATE knowledge_bases SET reindex = ? WHERE id = ?').run(JSON.stringify(lease.state), knowledgeBaseId);
        return lease;
      })
      .immediate();
  }

  async renewReindex(knowledgeBaseId: string, input: { owner: string; leaseMs: number; progress?: ReindexProgress }): Promise<boolean> {
    return this.#database
      .transaction((): boolean => {
        const state = this.#reindexOf(knowledgeBaseId);
        if (state === null || state.owner !== input.owner) return false;
        const next: ReindexState = {
          ...state,
          leaseExpiresAt: new Date(this.#now().getTime() + input.leaseMs).toISOString(),
          ...(input.progress === undefined ? {} : { progress: input.progress }),
        };
        this.#database.prepare('UPDATE knowledge_bases SET reindex = ? WHERE id = ?').run(JSON.stringify(next), knowledgeBaseId);
        return true;
      })
      .immediate();
  }

  async abandonReindex(knowledgeBaseId: string, owner: string): Promise<void> {
    this.#database
      .transaction(() => {
        if (this.#reindexOf(knowledgeBaseId)?.owner !== owner) return;
        this.#database.prepare('UPDATE knowledge_bases SET reindex = NULL WHERE id = ?').run(knowledgeBaseId);
      })
      .immediate();
  }

  async switchGeneration(knowledgeBaseId: string, input: { owner: string; targetGeneration: number }): Promise<GenerationSwitch> {
    return this.#database
      .transaction((): GenerationSwitch => {
        const row = this.#getKnowledgeBase.get(knowledgeBaseId) as KnowledgeBaseRow | undefined;
        if (row === undefined) throw new NotFoundError('knowledge_base_not_found', `Knowledge base ${knowledgeBaseId} does not exist`);
        const state = reindexStateOf(row);
        if (state === null || state.owner !== input.owner || state.targetGeneration !== input.targetGeneration) {
          throw new ConflictError('reindex_in_progress', `The reindex of knowledge base ${knowledgeBaseId} is no longer held by this process`);
        }
        const missing = this.#database
          .prepare(
            `SELECT id FROM documents WHERE knowledge_base_id = ? AND status = 'ready'
               AND id NOT IN (SELECT document_id FROM document_generations WHERE generation = ?)
             ORDER BY created_at, id`,
          )
          .all(knowledgeBaseId, input.targetGeneration) as Array<{ id: string }>;
        if (missing.length > 0) return { switched: false, missing: missing.map((entry) => entry.id) };
        this.#database
          .prepare('UPDATE knowledge_bases SET generation = ?, embedding_model = ?, dense_dimensions = ?, reindex = NULL WHERE id = ?')
          .run(input.targetGeneration, state.schema.embeddingModel, state.schema.denseDimensions, knowledgeBaseId);
        this.#database
          .prepare('DELETE FROM document_generations WHERE generation < ? AND document_id IN (SELECT id FROM documents WHERE knowledge_base_id = ?)')
          .run(input.targetGeneration, knowledgeBaseId);
        return { switched: true, previousGeneration: row.generation };
      })
      .immediate();
  }

  async recordDocumentGeneration(documentId: string, generation: number, chunks: number): Promise<void> {
    // A document deleted meanwhile has no row to refer to: there is nothing to record.
    this.#database
      .prepare(
        `INSERT INTO document_generations (document_id, generation, chunks) SELECT id, ?, ? FROM documents WHERE id = ?
         ON CONFLICT (document_id, generation) DO UPDATE SET chunks = excluded.chunks`,
      )
      .run(generation, chunks, documentId);
  }

  async documentsInGeneration(knowledgeBaseId: string, generation: number): Promise<Map<string, number>> {
    const rows = this.#database
      .prepare(
        `SELECT document_generations.document_id AS id, document_generations.chunks AS chunks FROM document_generations
         JOIN documents ON documents.id = document_generations.document_id
         WHERE documents.knowledge_base_id = ? AND document_generations.generation = ?`,
      )
      .all(knowledgeBaseId, generation) as Array<{ id: string; chunks: number }>;
    return new Map(rows.map((row) => [row.id, row.chunks]));
  }

  async searchableDocuments(knowledgeBaseId: string, documentIds: string[]): Promise<Set<string>> {
    const unique = [...new Set(documentIds)];
    if (unique.length === 0) return new Set();
    const rows = this.#searchableStatement(unique.length).all(knowledgeBaseId, ...unique) as Array<{ id: string }>;
    return new Set(rows.map((row) => row.id));
  }

  /**
   * Run on every question with one placeholder per document found: compiled once per count (up
   * to `maxCachedListLength`), since compiling cost twice what running it does.
   */
  #searchableStatement(count: number): Statement {
    let statement = this.#searchableStatements.get(count);
    if (statement === undefined) {
      statement = this.#database.prepare(
        `SELECT id FROM documents WHERE knowledge_base_id = ? AND status = 'ready' AND id IN (${Array(count).fill('?').join(', ')})`,
      );
      if (count <= maxCachedListLength) this.#searchableStatements.set(count, statement);
    }
    return statement;
  }

  async createDocuments(documents: NewDocument[]): Promise<CreatedDocument[]> {
    const timestamp = this.#timestamp();
    const insert = this.#database.prepare(`
      INSERT INTO documents (id, knowledge_base_id, name, bytes, content_hash, media_type, type, status,
        progress_stage, progress_done, progress_total, pages, chunks, error_code, error_message, attempts,
        replaces, created_at, updated_at)
      VALUES (@id, @knowledge_base_id, @name, @bytes, @content_hash, @media_type, NULL, 'queued',
        'queued', 0, 0, NULL, NULL, NULL, NULL, 0, @replaces, @created_at, @updated_at)`);
    const findDuplicate = this.#database.prepare('SELECT * FROM documents WHERE knowledge_base_id = ? AND content_hash = ? ORDER BY created_at, id LIMIT 1');
    return this.#database
      .transaction(() =>
        documents.map((document, position): CreatedDocument => {
          if (this.#getKnowledgeBase.get(document.knowledgeBaseId) === undefined) {
            throw new NotFoundError('knowledge_base_not_found', `Knowledge base ${document.knowledgeBaseId} does not exist`);
          }
          const duplicate = findDuplicate.get(document.knowledgeBaseId, document.contentHash) as DocumentRow | undefined;
          if (duplicate !== undefined) return { document: toDocument(duplicate), duplicate: true };
          // Distinct timestamps keep "oldest first" stable for documents uploaded together.
          const createdAt = new Date(Date.parse(timestamp) + position).toISOString();
          insert.run({
            id: document.id,
            knowledge_base_id: document.knowledgeBaseId,
            name: document.name,
            bytes: document.bytes,
            content_hash: document.contentHash,
            media_type: document.mediaType,
            replaces: document.replaces ?? null,
            created_at: createdAt,
            updated_at: createdAt,
          });
          const row = this.#database.prepare('SELECT * FROM documents WHERE id = ?').get(document.id) as DocumentRow;
          return { document: toDocument(row), duplicate: false };
        }),
      )
      .immediate();
  }

  async findDocumentByName(knowledgeBaseId: string, name: string): Promise<DocumentRecord | null> {
    const row = this.#database
      .prepare('SELECT * FROM documents WHERE knowledge_base_id = ? AND name = ? ORDER BY created_at DESC, id DESC LIMIT 1')
      .get(knowledgeBaseId, name) as DocumentRow | undefined;
    return row === undefined ? null : toDocument(row);
  }

  async completeDocument(documentId: string, chunks: number): Promise<{ document: DocumentRecord; replaced: string | null } | null> {
    return this.#database
      .transaction(() => {
        const row = this.#database
          .prepare(
            `UPDATE documents SET status = 'ready', chunks = @chunks, progress_stage = 'done', progress_done = @chunks,
               progress_total = @chunks, error_code = NULL, error_message = NULL, updated_at = @updated_at
             WHERE id = @id RETURNING *`,
          )
          .get({ id: documentId, chunks, updated_at: this.#timestamp() }) as DocumentRow | undefined;
        if (row === undefined) return null;
        let replaced: string | null = null;
        if (row.replaces !== null && row.replaces !== row.id) {
          const removed = this.#database
            .prepare('DELETE FROM documents WHERE id = ? AND knowledge_base_id = ?')
            .run(row.replaces, row.knowledge_base_id).changes;
          if (removed > 0) replaced = row.replaces;
        }
        return { document: toDocument(row), replaced };
      })
      .immediate();
  }

  async getDocument(knowledgeBaseId: string, documentId: string): Promise<DocumentRecord | null> {
    const row = this.#database.prepare('SELECT * FROM documents WHERE id = ? AND knowledge_base_id = ?').get(documentId, knowledgeBaseId) as
      DocumentRow | undefined;
    return row === undefined ? null : toDocument(row);
  }

  async listDocuments(knowledgeBaseId: string): Promise<DocumentRecord[]> {
    const rows = this.#database.prepare('SELECT * FROM documents WHERE knowledge_base_id = ? ORDER BY created_at, id').all(knowledgeBaseId) as DocumentRow[];
    return rows.map(toDocument);
  }

  async listDocumentsByStatus(statuses: DocumentStatus[]): Promise<DocumentRecord[]> {
    if (statuses.length === 0) return [];
    const placeholders = statuses.map(() => '?').join(', ');
    const rows = this.#database.prepare(`SELECT * FROM documents WHERE status IN (${placeholders}) ORDER BY created_at, id`).all(...statuses) as DocumentRow[];
    return rows.map(toDocument);
  }

  async updateDocument(documentId: string, update: DocumentUpdate): Promise<DocumentRecord | null> {
    const assignments: string[] = ['updated_at = @updated_at'];
    const values: Record<string, unknown> = { id: documentId, updated_at: this.#timestamp() };
    if (update.status !== undefined) {
      assignments.push('status = @status');
      values.status = update.status;
    }
    if (update.progress !== undefined) {
      assignments.push('progress_stage = @stage', 'progress_done = @done', 'progress_total = @total');
      values.stage = update.progress.stage;
      values.done = update.progress.done;
      values.total = update.progress.total;
    }
    if (update.pages !== undefined) {
      assignments.push('pages = @pages');
      values.pages = update.pages;
    }
    if (update.chunks !== undefined) {
      assignments.push('chunks = @chunks');
      values.chunks = update.chunks;
    }
    if (update.type !== undefined) {
      assignments.push('type = @type');
      values.type = update.type;
    }
    if (update.error !== undefined) {
      assignments.push('error_code = @error_code', 'error_message = @error_message');
      values.error_code = update.error?.code ?? null;
      values.error_message = update.error?.message ?? null;
    }
    const row = this.#database.prepare(`UPDATE documents SET ${assignments.join(', ')} WHERE id = @id RETURNING *`).get(values) as DocumentRow | undefined;
    return row === undefined ? null : toDocument(row);
  }

  async claimDocument(documentId: string): Promise<DocumentRecord | null> {
    const row = this.#database
      .prepare(
        `UPDATE documents SET status = 'processing', attempts = attempts + 1, updated_at = ?,
           error_code = NULL, error_message = NULL
         WHERE id = ? AND status IN ('queued', 'processing') RETURNING *`,
      )
      .get(this.#timestamp(), documentId) as DocumentRow | undefined;
    return row === undefined ? null : toDocument(row);
  }

  async deleteDocument(knowledgeBaseId: string, documentId: string): Promise<boolean> {
    return this.#database.prepare('DELETE FROM documents WHERE id = ? AND knowledge_base_id = ?').run(documentId, knowledgeBaseId).changes > 0;
  }

  async close(): Promise<void> {
    // The database is owned by whoever opened it; see EmbeddedStore.close.
  }

  #reindexOf(knowledgeBaseId: string): ReindexState | null {
    const row = this.#getKnowledgeBase.get(knowledgeBaseId) as KnowledgeBaseRow | undefined;
    return row === undefined ? null : reindexStateOf(row);
  }

  #timestamp(): string {
    return this.#now().toISOString();
  }
}
