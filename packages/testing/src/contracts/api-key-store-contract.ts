import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { ApiKeyStore, NewApiKey } from '@passage/spec';

/** A clock that moves on a second with every reading, so that "oldest first" does not depend on the machine's speed. */
export function steppingClock(start = Date.UTC(2030, 0, 1)): () => Date {
  let tick = 0;
  return () => new Date(start + (tick += 1000));
}

/** The behaviour every ApiKeyStore adapter must have. `create` gives a fresh, empty store. */
export function describeApiKeyStoreContract(name: string, create: () => Promise<{ store: ApiKeyStore; cleanup: () => Promise<void> }>): void {
  describe(`ApiKeyStore contract: ${name}`, () => {
    let store: ApiKeyStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await create());
    });
    afterEach(async () => {
      await cleanup();
    });

    const newKey = (overrides: Partial<NewApiKey> = {}): NewApiKey => ({
      id: `key_${randomUUID().replaceAll('-', '').slice(0, 20)}`,
      name: 'ci',
      scopes: ['read'],
      knowledgeBases: null,
      expiresAt: null,
      secretHash: randomBytes(32).toString('hex'),
      ...overrides,
    });

    it('finds a created key by the hash of its secret, with its scopes, knowledge bases and expiry, and never returns the hash', async () => {
      const input = newKey({ scopes: ['read', 'ingest'], knowledgeBases: ['kb_a', 'kb_b'], expiresAt: '2099-01-01T00:00:00.000Z' });
      const created = await store.createApiKey(input);
      assert.ok(!Number.isNaN(Date.parse(created.createdAt)));
      const found = await store.findApiKeyBySecretHash(input.secretHash);
      assert.deepEqual(found, created);
      assert.deepEqual(found?.scopes, ['read', 'ingest']);
      assert.deepEqual(found?.knowledgeBases, ['kb_a', 'kb_b']);
      assert.equal(found?.expiresAt, '2099-01-01T00:00:00.000Z');
      assert.equal(JSON.stringify(found).includes(input.secretHash), false);
      assert.equal(await store.findApiKeyBySecretHash(randomBytes(32).toString('hex')), null);
    });

    it('lists every key oldest first, without secrets', async () => {
      const first = await store.createApiKey(newKey({ name: 'first' }));
      const second = await store.createApiKey(newKey({ name: 'second', scopes: ['admin'] }));
      const listed = await store.listApiKeys();
      assert.deepEqual(
        listed.map((key) => key.id),
        [first.id, second.id],
      );
      assert.ok(listed.every((key) => !('secretHash' in key)));
    });

    it('revokes a key at once: the next lookup by its secret finds nothing, and a second revocation says it did not exist', async () => {
      const input = newKey();
      const created = await store.createApiKey(input);
      assert.equal(await store.deleteApiKey(created.id), true);
      assert.equal(await store.findApiKeyBySecretHash(input.secretHash), null);
      assert.deepEqual(await store.listApiKeys(), []);
      assert.equal(await store.deleteApiKey(created.id), false);
    });
  });
}
