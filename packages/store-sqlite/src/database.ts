import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export type SqliteDatabase = Database.Database;

export interface OpenDatabaseOptions {
  /** Folder that holds the database file; created when missing. */
  dataDirectory: string;
  /** File name inside the folder. Default: `passage.sqlite`. */
  fileName?: string;
  /** How long a writer waits for another process's lock, ms. Default: 5000. */
  busyTimeoutMs?: number;
}

const migrations: string[] = [
  `
  CREATE TABLE knowledge_bases (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    generation INTEGER NOT NULL DEFAULT 1
  );
  CREATE TABLE documents (
    id TEXT PRIMARY KEY,
    knowledge_base_id TEXT NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    media_type TEXT,
    type TEXT,
    status TEXT NOT NULL,
    progress_stage TEXT NOT NULL,
    progress_done INTEGER NOT NULL DEFAULT 0,
    progress_total INTEGER NOT NULL DEFAULT 0,
    pages INTEGER,
    chunks INTEGER,
    error_code TEXT,
    error_message TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX documents_by_knowledge_base ON documents(knowledge_base_id, created_at);
  CREATE INDEX documents_by_status ON documents(status, created_at);

  CREATE TABLE chunks (
    id TEXT PRIMARY KEY,
    knowledge_base_id TEXT NOT NULL,
    generation INTEGER NOT NULL,
    document_id TEXT NOT NULL,
    document_name TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    page INTEGER NOT NULL,
    start_offset INTEGER NOT NULL,
    end_offset INTEGER NOT NULL,
    text TEXT NOT NULL,
    tokens INTEGER NOT NULL,
    terms TEXT NOT NULL,
    vector BLOB
  );
  CREATE INDEX chunks_by_document ON chunks(document_id, generation, ordinal);
  CREATE INDEX chunks_by_knowledge_base ON chunks(knowledge_base_id, generation);

  -- A change feed of the index, so that an in-memory index (in this process or another one that
  -- shares the database file) can catch up without reloading everything.
  CREATE TABLE index_changes (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    knowledge_base_id TEXT NOT NULL,
    generation INTEGER,
    document_id TEXT,
    kind TEXT NOT NULL CHECK (kind IN ('upsert', 'remove-document', 'remove-knowledge-base'))
  );
  CREATE INDEX index_changes_by_knowledge_base ON index_changes(knowledge_base_id, sequence);
  `,
  // Generations and the document lifecycle: each generation's schema, the reindex lock and
  // progress, which documents are complete in which generation, the generations that exist in the
  // index, replacements, and lookups by content hash for duplicate uploads.
  `
  ALTER TABLE knowledge_bases ADD COLUMN embedding_model TEXT;
  ALTER TABLE knowledge_bases ADD COLUMN dense_dimensions INTEGER;
  ALTER TABLE knowledge_bases ADD COLUMN reindex TEXT;
  UPDATE knowledge_bases SET dense_dimensions = (
    SELECT length(vector) / 4 FROM chunks
    WHERE chunks.knowledge_base_id = knowledge_bases.id AND chunks.generation = knowledge_bases.generation AND vector IS NOT NULL
    LIMIT 1);

  ALTER TABLE documents ADD COLUMN replaces TEXT;
  CREATE INDEX documents_by_hash ON documents(knowledge_base_id, content_hash);
  CREATE INDEX documents_by_name ON documents(knowledge_base_id, name, created_at);

  CREATE TABLE document_generations (
    document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    generation INTEGER NOT NULL,
    chunks INTEGER NOT NULL,
    PRIMARY KEY (document_id, generation)
  );
  INSERT INTO document_generations (document_id, generation, chunks)
    SELECT documents.id, knowledge_bases.generation, COALESCE(documents.chunks, 0)
    FROM documents JOIN knowledge_bases ON knowledge_bases.id = documents.knowledge_base_id
    WHERE documents.status = 'ready';

  CREATE TABLE index_generations (
    knowledge_base_id TEXT NOT NULL,
    generation INTEGER NOT NULL,
    PRIMARY KEY (knowledge_base_id, generation)
  );
  INSERT INTO index_generations (knowledge_base_id, generation) SELECT id, generation FROM knowledge_bases;

  CREATE TABLE index_changes_next (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    knowledge_base_id TEXT NOT NULL,
    generation INTEGER,
    document_id TEXT,
    kind TEXT NOT NULL CHECK (kind IN ('upsert', 'remove-document', 'remove-knowledge-base', 'remove-generation'))
  );
  INSERT INTO index_changes_next SELECT sequence, knowledge_base_id, generation, document_id, kind FROM index_changes;
  DROP TABLE index_changes;
  ALTER TABLE index_changes_next RENAME TO index_changes;
  CREATE INDEX index_changes_by_knowledge_base ON index_changes(knowledge_base_id, sequence);
  `,
  // API keys: only the SHA-256 of each key is kept; scopes and knowledge bases as JSON arrays.
  `
  CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    knowledge_bases TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    secret_hash TEXT NOT NULL UNIQUE
  );
  `,
];

/** Opens (and migrates) the embedded database in WAL mode. */
export function openDatabase(options: OpenDatabaseOptions): SqliteDatabase {
  mkdirSync(options.dataDirectory, { recursive: true });
  const database = new Database(path.join(options.dataDirectory, options.fileName ?? 'passage.sqlite'));
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('foreign_keys = ON');
  database.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
  migrate(database);
  return database;
}

function migrate(database: SqliteDatabase): void {
  const current = database.pragma('user_version', { simple: true }) as number;
  for (let version = current; version < migrations.length; version += 1) {
    const migration = migrations[version];
    if (migration === undefined) break;
    database
      .transaction(() => {
        database.exec(migration);
        database.pragma(`user_version = ${version + 1}`);
      })
      .immediate();
  }
}
