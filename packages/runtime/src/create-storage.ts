import path from 'node:path';
import { LocalChunkIndex } from '@passage/retrieval';
import type { Catalog, ChunkIndex, Config, Embedder, FileStore, Logger } from '@passage/spec';
import { LocalFileStore, SqliteCatalog, SqliteChunkStore, openDatabase } from '@passage/store-sqlite';

export interface Storage {
  catalog: Catalog;
  files: FileStore;
  index: ChunkIndex;
  /** Folder for uploads in flight, on the same file system as the file store. */
  uploadDirectory: string;
  close(): Promise<void>;
}

/**
 * Catalog, originals and chunk index as configured. Default: the embedded SQLite database and
 * folders under DATA_DIR.
 */
export async function createStorage(config: Config, logger: Logger, embedder: Embedder | null): Promise<Storage> {
  void logger;
  void embedder;
  const dataDirectory = path.resolve(config.DATA_DIR);
  const storageDirectory = path.resolve(config.STORAGE_DIR ?? path.join(dataDirectory, 'originals'));
  const database = openDatabase({ dataDirectory });
  const catalog = new SqliteCatalog(database);
  const index = new LocalChunkIndex({ store: new SqliteChunkStore(database) });
  return {
    catalog,
    files: new LocalFileStore({ directory: storageDirectory }),
    index,
    uploadDirectory: path.join(storageDirectory, '.uploads'),
    async close() {
      await index.close();
      await catalog.close();
      database.close();
    },
  };
}
