import { rm } from 'node:fs/promises';
import { LocalChunkIndex } from '@passage/retrieval';
import { describeCatalogContract, describeChunkIndexContract, temporaryDataDirectory } from '@passage/testing';
import { openDatabase } from './database.js';
import { SqliteCatalog } from './sqlite-catalog.js';
import { SqliteChunkStore } from './sqlite-chunk-store.js';

describeCatalogContract('SQLite', async () => {
  const directory = await temporaryDataDirectory();
  const database = openDatabase({ dataDirectory: directory });
  return {
    catalog: new SqliteCatalog(database),
    cleanup: async () => {
      database.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
});

describeChunkIndexContract('embedded (SQLite store, in-memory BM25)', async () => {
  const directory = await temporaryDataDirectory();
  const databases = [openDatabase({ dataDirectory: directory })];
  return {
    index: new LocalChunkIndex({ store: new SqliteChunkStore(databases[0]!) }),
    // A second connection to the same file behaves like another process.
    openAnother: async () => {
      const database = openDatabase({ dataDirectory: directory });
      databases.push(database);
      return new LocalChunkIndex({ store: new SqliteChunkStore(database) });
    },
    cleanup: async () => {
      for (const database of databases) database.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
});
