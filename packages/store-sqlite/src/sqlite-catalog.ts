import type {
  Catalog,
  DocumentRecord,
  DocumentStatus,
  DocumentUpdate,
  IngestionStage,
  KnowledgeBase,
  NewDocument,
} from '@passage/spec';
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './database.js';

interface KnowledgeBaseRow {
  id: string;
  name: string;
  created_at: string;
  generation: number;
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
  created_at: string;
  updated_at: string;
}

function toKnowledgeBase(row: KnowledgeBaseRow): KnowledgeBase {
  return { id: row.id, name: row.name, createdAt: row.created_at, generation: row.generation };
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
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/**
 * The catalog in the embedded SQLite database. better-sqlite3 is synchronous; each call is a
 * single indexed statement on a local WAL database, which costs microseconds, so the methods are
 * async only to honour the port that the Redis catalog also implements.
 */
export class SqliteCatalog implements Catalog {
  readonly #database: SqliteDatabase;
  /** Run on every question: compiled once, since compiling cost more than running it. */
  readonly #getKnowledgeBase: Statement<unknown[]>;
  readonly #now: () => Date;

  constructor(database: SqliteDatabase, options: { now?: () => Date } = {}) {
    this.#database = database;
    this.#getKnowledgeBase = database.prepare('SELECT * FROM knowledge_bases WHERE id = ?');
    this.#now = options.now ?? (() => new Date());
  }

  async createKnowledgeBase(input: { id: string; name: string }): Promise<KnowledgeBase> {
    const row: KnowledgeBaseRow = { id: input.id, name: input.name, created_at: this.#timestamp(), generation: 1 };
    this.#database
      .prepare('INSERT INTO knowledge_bases (id, name, created_at, generation) VALUES (@id, @name, @created_at, @generation)')
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

  async setGeneration(knowledgeBaseId: string, generation: number): Promise<void> {
    this.#database.prepare('UPDATE knowledge_bases SET generation = ? WHERE id = ?').run(generation, knowledgeBaseId);
  }

  async createDocuments(documents: NewDocument[]): Promise<DocumentRecord[]> {
    const timestamp = this.#timestamp();
    const insert = this.#database.prepare(`
      INSERT INTO documents (id, knowledge_base_id, name, bytes, content_hash, media_type, type, status,
        progress_stage, progress_done, progress_total, pages, chunks, error_code, error_message, attempts,
        created_at, updated_at)
      VALUES (@id, @knowledge_base_id, @name, @bytes, @content_hash, @media_type, NULL, 'queued',
        'queued', 0, 0, NULL, NULL, NULL, NULL, 0, @created_at, @updated_at)`);
    const rows = this.#database.transaction(() =>
      documents.map((document, position) => {
        // Distinct timestamps keep "oldest first" stable for documents uploaded together.
        const createdAt = new Date(Date.parse(timestamp) + position).toISOString();
        insert.run({
          id: document.id,
          knowledge_base_id: document.knowledgeBaseId,
          name: document.name,
          bytes: document.bytes,
          content_hash: document.contentHash,
          media_type: document.mediaType,
          created_at: createdAt,
          updated_at: createdAt,
        });
        return this.#database.prepare('SELECT * FROM documents WHERE id = ?').get(document.id) as DocumentRow;
      }),
    )();
    return rows.map(toDocument);
  }

  async getDocument(knowledgeBaseId: string, documentId: string): Promise<DocumentRecord | null> {
    const row = this.#database
      .prepare('SELECT * FROM documents WHERE id = ? AND knowledge_base_id = ?')
      .get(documentId, knowledgeBaseId) as DocumentRow | undefined;
    return row === undefined ? null : toDocument(row);
  }

  async listDocuments(knowledgeBaseId: string): Promise<DocumentRecord[]> {
    const rows = this.#database
      .prepare('SELECT * FROM documents WHERE knowledge_base_id = ? ORDER BY created_at, id')
      .all(knowledgeBaseId) as DocumentRow[];
    return rows.map(toDocument);
  }

  async listDocumentsByStatus(statuses: DocumentStatus[]): Promise<DocumentRecord[]> {
    if (statuses.length === 0) return [];
    const placeholders = statuses.map(() => '?').join(', ');
    const rows = this.#database
      .prepare(`SELECT * FROM documents WHERE status IN (${placeholders}) ORDER BY created_at, id`)
      .all(...statuses) as DocumentRow[];
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
    const row = this.#database
      .prepare(`UPDATE documents SET ${assignments.join(', ')} WHERE id = @id RETURNING *`)
      .get(values) as DocumentRow | undefined;
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
    return (
      this.#database
        .prepare('DELETE FROM documents WHERE id = ? AND knowledge_base_id = ?')
        .run(documentId, knowledgeBaseId).changes > 0
    );
  }

  async close(): Promise<void> {
    // The database is owned by whoever opened it; see EmbeddedStore.close.
  }

  #timestamp(): string {
    return this.#now().toISOString();
  }
}
