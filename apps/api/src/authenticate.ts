import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AppError, type ApiKeyScope, type ApiKeyStore } from '@passage/spec';
import { hashApiKey } from './routes/api-key-routes.js';

/** Who makes a request. */
export interface Principal {
  /** The key's id (`admin` for ADMIN_API_KEY); null without authentication. */
  keyId: string | null;
  scopes: ReadonlySet<ApiKeyScope>;
  /** The knowledge bases it is limited to; null: every one. */
  knowledgeBases: ReadonlySet<string> | null;
}

/** Everything, for a service that runs without keys. */
export const unauthenticatedPrincipal: Principal = { keyId: null, scopes: new Set(['read', 'ingest', 'admin']), knowledgeBases: null };

const scopeRank: Record<ApiKeyScope, number> = { read: 0, ingest: 1, admin: 2 };

/** Whether a principal has `scope`: `admin` includes `ingest`, which includes `read`. */
export function hasScope(principal: Principal, scope: ApiKeyScope): boolean {
  for (const held of principal.scopes) if (scopeRank[held] >= scopeRank[scope]) return true;
  return false;
}

/** The token of `Authorization: Bearer <token>` (as the OpenAI SDKs send their key), or undefined. */
export function bearerToken(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  const match = header === undefined ? null : /^Bearer +([^\s]+) *$/i.exec(header);
  return match?.[1];
}

/** Compares two secrets in a time that does not depend on where they differ. */
export function secretsEqual(presented: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

export interface AuthenticatorOptions {
  /** ADMIN_API_KEY; undefined: the service runs without authentication. */
  adminKey: string | undefined;
  keys: ApiKeyStore;
  /** Clock for expiry (tests). Default: the system clock. */
  now?: () => number;
}

/**
 * Finds the principal of a request from its bearer key: ADMIN_API_KEY (every scope), or a key of
 * the store, looked up by its SHA-256 on every request, so that a revoked key is refused by the
 * next one. No key, an unknown, revoked or expired key: 401 `unauthorized`.
 */
export class Authenticator {
  readonly #options: AuthenticatorOptions;
  readonly #now: () => number;

  constructor(options: AuthenticatorOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Whether requests need a key at all. */
  get enabled(): boolean {
    return this.#options.adminKey !== undefined;
  }

  async authenticate(request: IncomingMessage): Promise<Principal> {
    if (!this.enabled) return unauthenticatedPrincipal;
    const token = bearerToken(request);
    if (token === undefined) throw unauthorized('An API key is required: send it as "Authorization: Bearer <key>"');
    if (this.#options.adminKey !== undefined && secretsEqual(token, this.#options.adminKey))
      return { keyId: 'admin', scopes: new Set(['admin']), knowledgeBases: null };
    const key = await this.#options.keys.findApiKeyBySecretHash(hashApiKey(token));
    if (key === null) throw unauthorized('The API key is not valid (unknown or revoked)');
    if (key.expiresAt !== null && Date.parse(key.expiresAt) <= this.#now()) throw unauthorized('The API key has expired');
    return { keyId: key.id, scopes: new Set(key.scopes), knowledgeBases: key.knowledgeBases === null ? null : new Set(key.knowledgeBases) };
  }
}

export function unauthorized(message: string): AppError {
  return new AppError('unauthorized', message);
}
