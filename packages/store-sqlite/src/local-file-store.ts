import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { FileStore } from '@passage/spec';

/**
 * Originals as plain files in a folder (`DATA_DIR/originals` embedded, a shared volume when scaled).
 * Writes go to a temporary name in the same folder and are renamed into place, so a reader never
 * sees half a file and a crash leaves at most a stray temporary file.
 */
export class LocalFileStore implements FileStore {
  readonly #directory: string;

  constructor(options: { directory: string }) {
    this.#directory = options.directory;
  }

  async putFromPath(documentId: string, sourcePath: string, signal?: AbortSignal): Promise<void> {
    await mkdir(this.#directory, { recursive: true });
    const temporary = path.join(this.#directory, `.incoming-${randomUUID()}`);
    try {
      try {
        await rename(sourcePath, temporary);
      } catch (error) {
        // Another file system (a volume): copy instead of moving.
        if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
        await copyFile(sourcePath, temporary);
        await rm(sourcePath, { force: true });
      }
      signal?.throwIfAborted();
      await rename(temporary, this.#pathOf(documentId));
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }

  async read(documentId: string, signal?: AbortSignal): Promise<Uint8Array> {
    return readFile(this.#pathOf(documentId), signal === undefined ? {} : { signal });
  }

  async delete(documentId: string): Promise<void> {
    await rm(this.#pathOf(documentId), { force: true });
  }

  async exists(documentId: string): Promise<boolean> {
    try {
      await stat(this.#pathOf(documentId));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  }

  #pathOf(documentId: string): string {
    if (!/^[A-Za-z0-9_-]+$/.test(documentId)) throw new Error(`Invalid document id for storage: ${documentId}`);
    return path.join(this.#directory, documentId);
  }
}
