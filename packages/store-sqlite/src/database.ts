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
    database.transaction(() => {
      database.exec(migration);
      database.pragma(`user_version = ${version + 1}`);
    }).immediate();
  }
}
