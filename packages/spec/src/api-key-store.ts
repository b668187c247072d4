/** What a key may do: `read` lists, searches and asks; `ingest` also uploads and deletes documents; `admin` does everything. */
export const apiKeyScopes = ['read', 'ingest', 'admin'] as const;

export type ApiKeyScope = (typeof apiKeyScopes)[number];

/** An API key as the catalog keeps it: never the key itself, only its SHA-256. */
export interface ApiKeyRecord {
  /** Public id (`key_…`), shown in lists and logs. */
  id: string;
  name: string;
  scopes: ApiKeyScope[];
  /** The knowledge bases the key is limited to; null: every knowledge base. */
  knowledgeBases: string[] | null;
  createdAt: string;
  /** ISO time after which the key is refused; null: never. */
  expiresAt: string | null;
}

export interface NewApiKey extends Omit<ApiKeyRecord, 'createdAt'> {
  /** SHA-256 of the key, hex: what a presented key is looked up by. */
  secretHash: string;
}

/**
 * API keys, stored hashed beside the catalog (SQLite, or Redis in the scaled mode). A key is a
 * long random secret, so one SHA-256 is enough to store it: nothing can be guessed from the hash,
 * and a lookup by hash costs one indexed read per request. Revocation deletes the record, so a
 * revoked key is refused by the next request.
 */
export interface ApiKeyStore {
  createApiKey(key: NewApiKey): Promise<ApiKeyRecord>;
  /** The key whose secret hashes to `secretHash`, expired or not (the caller checks `expiresAt`); null when none. */
  findApiKeyBySecretHash(secretHash: string): Promise<ApiKeyRecord | null>;
  /** Every key, oldest first. */
  listApiKeys(): Promise<ApiKeyRecord[]>;
  /** Revokes a key at once. False when it did not exist. */
  deleteApiKey(id: string): Promise<boolean>;
}
