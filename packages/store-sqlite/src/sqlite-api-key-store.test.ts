import { rm } from 'node:fs/promises';
import { describeApiKeyStoreContract, steppingClock, temporaryDataDirectory } from '@passage/testing';
import { openDatabase } from './database.js';
import { SqliteApiKeyStore } from './sqlite-api-key-store.js';

describeApiKeyStoreContract('SQLite', async () => {
  const directory = await temporaryDataDirectory();
  const database = openDatabase({ dataDirectory: directory });
  return {
    store: new SqliteApiKeyStore(database, { now: steppingClock() }),
    cleanup: async () => {
      database.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
});
