import type { ApiKeyRecord, ApiKeyScope, ApiKeyStore, NewApiKey } from '@passage/spec';
import type { SqliteDatabase } from './database.js';

interface ApiKeyRow {
  id: string;
  name: string;
  scopes: string;
  knowledge_bases: string | null;
  created_at: string;
  expires_at: string | null;
}

function toRecord(row: ApiKeyRow): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    scopes: JSON.parse(row.scopes) as ApiKeyScope[],
    knowledgeBases: row.knowledge_bases === null ? null : (JSON.parse(row.knowledge_bases) as string[]),
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
}

/** API keys in the embedded database (table `api_keys`, migration 3), looked up by the SHA-256 of the key. */
export class SqliteApiKeyStore implements ApiKeyStore {
  readonly #database: SqliteDatabase;
  readonly #now: () => Date;

  /** `now`: clock for `createdAt` (tests). Default: the system clock. */
  constructor(database: SqliteDatabase, options: { now?: () => Date } = {}) {
    this.#database = database;
    this.#now = options.now ?? (() => new Date());
  }

  createApiKey(key: NewApiKey): Promise<ApiKeyRecord> {
    const createdAt = this.#now().toISOString();
    this.#database
      .prepare(
        `INSERT INTO api_keys (id, name, scopes, knowledge_bases, created_at, expires_at, secret_hash)
         VALUES (@id, @name, @scopes, @knowledgeBases, @createdAt, @expiresAt, @secretHash)`,
      )
      .run({
        id: key.id,
        name: key.name,
        scopes: JSON.stringify(key.scopes),
        knowledgeBases: key.knowledgeBases === null ? null : JSON.stringify(key.knowledgeBases),
        createdAt,
        expiresAt: key.expiresAt,
        secretHash: key.secretHash,
      });
    return Promise.resolve({ id: key.id, name: key.name, scopes: key.scopes, knowledgeBases: key.knowledgeBases, createdAt, expiresAt: key.expiresAt });
  }

  findApiKeyBySecretHash(secretHash: string): Promise<ApiKeyRecord | null> {
    const row = this.#database.prepare('SELECT * FROM api_keys WHERE secret_hash = ?').get(secretHash) as ApiKeyRow | undefined;
    return Promise.resolve(row === undefined ? null : toRecord(row));
  }

  listApiKeys(): Promise<ApiKeyRecord[]> {
    const rows = this.#database.prepare('SELECT * FROM api_keys ORDER BY created_at, id').all() as ApiKeyRow[];
    return Promise.resolve(rows.map(toRecord));
  }

  deleteApiKey(id: string): Promise<boolean> {
    return Promise.resolve(this.#database.prepare('DELETE FROM api_keys WHERE id = ?').run(id).changes > 0);
  }
}
