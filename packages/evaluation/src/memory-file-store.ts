import { readFile } from 'node:fs/promises';
import { throwIfAborted, type FileStore } from '@passage/spec';

/** A FileStore in memory, for evaluations: originals are small and live only as long as the run. */
export class MemoryFileStore implements FileStore {
  readonly #files = new Map<string, Uint8Array>();

  /** Stores bytes directly (what an upload would have put through putFromPath). */
  put(documentId: string, bytes: Uint8Array): void {
    this.#files.set(documentId, bytes);
  }

  async putFromPath(documentId: string, sourcePath: string, signal?: AbortSignal): Promise<void> {
    this.#files.set(documentId, await readFile(sourcePath, signal === undefined ? {} : { signal }));
  }

  async read(documentId: string, signal?: AbortSignal): Promise<Uint8Array> {
    throwIfAborted(signal);
    const bytes = this.#files.get(documentId);
    if (bytes === undefined) {
      throw Object.assign(new Error(`No stored original for ${documentId}`), { code: 'ENOENT' });
    }
    return bytes;
  }

  async delete(documentId: string): Promise<void> {
    this.#files.delete(documentId);
  }

  async exists(documentId: string): Promise<boolean> {
    return this.#files.has(documentId);
  }
}
