import {
  GenerationNotFoundError,
  TimeSlice,
  type Chunk,
  type ChunkPostings,
  type ChunkStore,
  type IndexChange,
  type IndexedChunk,
  type RandomAccessFile,
} from '@passage/spec';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './database.js';
import { openRandomAccessFile } from './random-access-file.js';

interface ChunkRow {
  id: string;
  knowledge_base_id: string;
  generation: number;
  document_id: string;
  document_name: string;
  ordinal: number;
  page: number;
  start_offset: number;
  end_offset: number;
  text: string;
  tokens: number;
}

interface PostingRow {
  id: string;
  document_id: string;
  terms: string;
  vector: Buffer | null;
}

interface ChangeRow {
  sequence: number;
  kind: IndexChange['kind'];
  knowledge_base_id: string;
  generation: number | null;
  document_id: string | null;
}

function toChunk(row: ChunkRow): Chunk {
  return {
    id: row.id,
    knowledgeBaseId: row.knowledge_base_id,
    generation: row.generation,
    documentId: row.document_id,
    documentName: row.document_name,
    ordinal: row.ordinal,
    page: row.page,
    start: row.start_offset,
    end: row.end_offset,
    text: row.text,
    tokens: row.tokens,
  };
}

function toPostings(row: PostingRow): ChunkPostings {
  const postings: ChunkPostings = {
    id: row.id,
    documentId: row.document_id,
    terms: JSON.parse(row.terms) as Record<string, number>,
  };
  if (row.vector !== null) {
    postings.vector = Array.from(new Float32Array(row.vector.buffer, row.vector.byteOffset, row.vector.byteLength / 4));
  }
  return postings;
}

/** Rows of postings read (and JSON-parsed) at once: a few milliseconds. */
const postingsPageRows = 256;

/** Rows read at once when the terms stay unparsed: a few milliseconds. */
const rawPageRows = 512;

function encodeVector(vector: number[] | undefined): Buffer | null {
  return vector === undefined ? null : Buffer.from(new Float32Array(vector).buffer);
}

/** A chunk's terms as stored (JSON text, parsed by whoever builds from it) and its vector, for a snapshot. */
export interface RawChunkPostings {
  id: string;
  documentId: string;
  terms: string;
  /** A view of the stored Float32 values, or null. */
  vector: Float32Array | null;
}

function toVector(blob: Buffer | null): Float32Array | null {
  if (blob === null) return null;
  // Copied: the view must not depend on the alignment or the lifetime of the row's buffer.
  return new Float32Array(new Uint8Array(blob).buffer);
}

/** Rows per write transaction of a document's chunks: a few milliseconds of work each. */
const writeBatchRows = 200;

/** Rows per delete transaction: a few milliseconds of work each. */
const deleteBatchRows = 500;

/** Chunks, their terms and vectors, and the change feed, in the embedded SQLite database. */
export class SqliteChunkStore implements ChunkStore {
  readonly #database: SqliteDatabase;
  /** Statements run on every search, compiled once: compiling cost more than running them. */
  readonly #statements = new Map<string, Statement>();

  constructor(database: SqliteDatabase) {
    this.#database = database;
  }

  async createGeneration(knowledgeBaseId: string, generation: number): Promise<void> {
    this.#database
      .prepare('INSERT INTO index_generations (knowledge_base_id, generation) VALUES (?, ?) ON CONFLICT DO NOTHING')
      .run(knowledgeBaseId, generation);
  }

  async hasGeneration(knowledgeBaseId: string, generation: number): Promise<boolean> {
    return this.#statement('SELECT 1 FROM index_generations WHERE knowledge_base_id = ? AND generation = ?').get(knowledgeBaseId, generation) !== undefined;
  }

  async dropGeneration(knowledgeBaseId: string, generation: number): Promise<void> {
    // The generation goes first, in one step (writes into it fail from then on, and the change
    // feed tells readers); its rows then go in bounded deletes.
    this.#database
      .transaction(() => {
        this.#database.prepare('DELETE FROM index_generations WHERE knowledge_base_id = ? AND generation = ?').run(knowledgeBaseId, generation);
        this.#database
          .prepare(`INSERT INTO index_changes (knowledge_base_id, generation, document_id, kind) VALUES (?, ?, NULL, 'remove-generation')`)
          .run(knowledgeBaseId, generation);
      })
      .immediate();
    await this.#removeSegments(knowledgeBaseId, generation);
    await this.#deleteInBatches('knowledge_base_id = ? AND generation = ?', [knowledgeBaseId, generation]);
  }

  async replaceDocumentChunks(target: { knowledgeBaseId: string; generation: number; documentId: string }, chunks: IndexedChunk[]): Promise<void> {
    const exists = this.#database.prepare('SELECT 1 FROM index_generations WHERE knowledge_base_id = ? AND generation = ?');
    const insert = this.#database.prepare(`
      INSERT INTO chunks (id, knowledge_base_id, generation, document_id, document_name, ordinal, page,
        start_offset, end_offset, text, tokens, terms, vector)
      VALUES (@id, @knowledge_base_id, @generation, @document_id, @document_name, @ordinal, @page,
        @start_offset, @end_offset, @text, @tokens, @terms, @vector)`);
    const log = this.#database.prepare(`INSERT INTO index_changes (knowledge_base_id, generation, document_id, kind) VALUES (?, ?, ?, 'upsert')`);
    const checkGeneration = () => {
      // Checked in every write transaction: a generation dropped (or a knowledge base deleted) a
      // moment ago never gets chunks back.
      if (exists.get(target.knowledgeBaseId, target.generation) === undefined) {
        throw new GenerationNotFoundError(target.knowledgeBaseId, target.generation);
      }
    };
    // Rows go in in bounded transactions with the event loop free between them, so a large
    // document never holds the thread. Nobody reads a document half written: the in-memory index
    // follows the change feed, logged in the last transaction, and searches return only documents
    // the catalog holds ready.
    this.#database.transaction(() => checkGeneration()).immediate();
    // A rebuild into a generation that already holds the document replaces its rows.
    await this.#deleteInBatches('document_id = ? AND generation = ?', [target.documentId, target.generation], checkGeneration);
    const slice = new TimeSlice();
    for (let offset = 0; offset < chunks.length; offset += writeBatchRows) {
      const batch = chunks.slice(offset, offset + writeBatchRows);
      this.#database
        .transaction(() => {
          checkGeneration();
          for (const chunk of batch) {
            insert.run({
              id: chunk.id,
              knowledge_base_id: target.knowledgeBaseId,
              generation: target.generation,
              document_id: target.documentId,
              document_name: chunk.documentName,
              ordinal: chunk.ordinal,
              page: chunk.page,
              start_offset: chunk.start,
              end_offset: chunk.end,
              text: chunk.text,
              tokens: chunk.tokens,
              terms: chunk.termsJson ?? JSON.stringify(chunk.terms),
              vector: encodeVector(chunk.vector),
            });
          }
        })
        .immediate();
      await slice.yieldIfSpent();
    }
    this.#database
      .transaction(() => {
        checkGeneration();
        log.run(target.knowledgeBaseId, target.generation, target.documentId);
      })
      .immediate();
  }

  async removeDocument(knowledgeBaseId: string, documentId: string): Promise<void> {
    // Searches return only documents the catalog holds ready, so rows on their way out are never
    // cited; the change feed entry comes once they are all gone.
    await this.#deleteInBatches('document_id = ? AND knowledge_base_id = ?', [documentId, knowledgeBaseId]);
    this.#database
      .transaction(() => {
        this.#deleteRows('document_id = ? AND knowledge_base_id = ?', [documentId, knowledgeBaseId], Number.MAX_SAFE_INTEGER);
        this.#database
          .prepare(`INSERT INTO index_changes (knowledge_base_id, generation, document_id, kind) VALUES (?, NULL, ?, 'remove-document')`)
          .run(knowledgeBaseId, documentId);
      })
      .immediate();
  }

  async removeKnowledgeBase(knowledgeBaseId: string): Promise<void> {
    // Its generations and feed go in one step (writes into it fail from then on); its rows then
    // go in bounded deletes.
    this.#database
      .transaction(() => {
        this.#database.prepare('DELETE FROM index_generations WHERE knowledge_base_id = ?').run(knowledgeBaseId);
        this.#database.prepare('DELETE FROM index_changes WHERE knowledge_base_id = ?').run(knowledgeBaseId);
        this.#database
          .prepare(`INSERT INTO index_changes (knowledge_base_id, generation, document_id, kind) VALUES (?, NULL, NULL, 'remove-knowledge-base')`)
          .run(knowledgeBaseId);
      })
      .immediate();
    await this.#removeSegments(knowledgeBaseId);
    await this.#deleteInBatches('knowledge_base_id = ?', [knowledgeBaseId]);
  }

  /**
   * Deletes the chunk rows matching `where`, at most {@link deleteBatchRows} per transaction with
   * the event loop free between them: one DELETE of a large document's rows holds the thread for
   * hundreds of milliseconds. `check` runs in every transaction (and may throw to stop).
   */
  async #deleteInBatches(where: string, parameters: unknown[], check?: () => void): Promise<void> {
    const slice = new TimeSlice();
    for (;;) {
      const deleted = this.#database
        .transaction(() => {
          check?.();
          return this.#deleteRows(where, parameters, deleteBatchRows);
        })
        .immediate();
      if (deleted < deleteBatchRows) return;
      await slice.yieldIfSpent();
    }
  }

  /** Deletes at most `limit` chunk rows matching `where`; returns how many. */
  #deleteRows(where: string, parameters: unknown[], limit: number): number {
    return this.#statement(`DELETE FROM chunks WHERE rowid IN (SELECT rowid FROM chunks WHERE ${where} LIMIT ?)`).run(...parameters, limit).changes;
  }

  async snapshot(knowledgeBaseId: string, generation: number): Promise<{ sequence: number; postings: ChunkPostings[] }> {
    // The feed position first, then the postings in pages with the event loop free between them
    // (better-sqlite3 reads synchronously). A write between pages is in the feed after that
    // position, and replaying it reloads the documents it touched as they are then.
    const { sequence } = this.#statement('SELECT COALESCE(MAX(sequence), 0) AS sequence FROM index_changes WHERE knowledge_base_id = ?').get(
      knowledgeBaseId,
    ) as { sequence: number };
    const page = this.#statement(
      `SELECT rowid, id, document_id, terms, vector FROM chunks WHERE knowledge_base_id = ? AND generation = ? AND rowid > ?
       ORDER BY rowid LIMIT ${postingsPageRows}`,
    );
    const postings: ChunkPostings[] = [];
    for (let after = -1; ;) {
      const rows = page.all(knowledgeBaseId, generation, after) as Array<PostingRow & { rowid: number }>;
      for (const row of rows) postings.push(toPostings(row));
      if (rows.length < postingsPageRows) break;
      after = rows[rows.length - 1]!.rowid;
      await yieldToEventLoop();
    }
    return { sequence, postings };
  }

  /**
   * Every chunk of one generation, terms as stored, in pages read with the event loop free between
   * them; `sequence` is the feed position taken before the first page (as for {@link snapshot}).
   * With `vectors: false` the vector column is not read.
   */
  async snapshotRows(
    knowledgeBaseId: string,
    generation: number,
    options: { vectors?: boolean } = {},
  ): Promise<{ sequence: number; pages: AsyncIterable<RawChunkPostings[]> }> {
    const { sequence } = this.#statement('SELECT COALESCE(MAX(sequence), 0) AS sequence FROM index_changes WHERE knowledge_base_id = ?').get(
      knowledgeBaseId,
    ) as { sequence: number };
    const page = this.#statement(
      `SELECT rowid, id, document_id, terms${options.vectors === false ? ', NULL AS vector' : ', vector'} FROM chunks
       WHERE knowledge_base_id = ? AND generation = ? AND rowid > ? ORDER BY rowid LIMIT ${rawPageRows}`,
    );
    async function* pages(): AsyncGenerator<RawChunkPostings[]> {
      for (let after = -1; ;) {
        const rows = page.all(knowledgeBaseId, generation, after) as Array<PostingRow & { rowid: number }>;
        yield rows.map((row) => ({ id: row.id, documentId: row.document_id, terms: row.terms, vector: toVector(row.vector) }));
        if (rows.length < rawPageRows) return;
        after = rows[rows.length - 1]!.rowid;
        await yieldToEventLoop();
      }
    }
    return { sequence, pages: pages() };
  }

  /** The vectors of one generation's chunks, in pages read with the event loop free between them. */
  async *vectorPages(knowledgeBaseId: string, generation: number): AsyncGenerator<Array<{ id: string; vector: Float32Array }>> {
    const page = this.#statement(
      `SELECT rowid, id, vector FROM chunks WHERE knowledge_base_id = ? AND generation = ? AND rowid > ? ORDER BY rowid LIMIT ${rawPageRows}`,
    );
    for (let after = -1; ;) {
      const rows = page.all(knowledgeBaseId, generation, after) as Array<{ rowid: number; id: string; vector: Buffer | null }>;
      yield rows.flatMap((row) => (row.vector === null ? [] : [{ id: row.id, vector: toVector(row.vector) as Float32Array }]));
      if (rows.length < rawPageRows) return;
      after = rows[rows.length - 1]!.rowid;
      await yieldToEventLoop();
    }
  }

  /**
   * The lexical segment last written for the generation (an index's own bytes, see
   * LexicalSegment in retrieval), opened for reading at any position, or null. Kept as a file
   * beside the database, read off the event loop; none for an in-memory database. The open file
   * keeps the bytes it was opened on, also when a rebuild replaces the file meanwhile.
   */
  async openLexicalSegment(knowledgeBaseId: string, generation: number): Promise<RandomAccessFile | null> {
    const file = this.#segmentFile(knowledgeBaseId, generation);
    if (file === null) return null;
    try {
      return await openRandomAccessFile(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  /** Replaces the generation's lexical segment file in one step (written aside, then renamed). */
  async writeLexicalSegment(knowledgeBaseId: string, generation: number, bytes: Uint8Array): Promise<void> {
    const file = this.#segmentFile(knowledgeBaseId, generation);
    if (file === null) return;
    await mkdir(path.dirname(file), { recursive: true });
    const temporary = `${file}.${process.pid}.${Date.now()}.partial`;
    await writeFile(temporary, bytes);
    await rename(temporary, file);
    // A generation dropped meanwhile must not get its segment back.
    if (!(await this.hasGeneration(knowledgeBaseId, generation))) await rm(file, { force: true });
  }

  async #removeSegments(knowledgeBaseId: string, generation?: number): Promise<void> {
    const file = this.#segmentFile(knowledgeBaseId, generation ?? 0);
    if (file === null) return;
    const directory = path.dirname(file);
    if (generation !== undefined) {
      await rm(file, { force: true });
      return;
    }
    const prefix = `${encodeURIComponent(knowledgeBaseId)}.`;
    const names = await readdir(directory).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [] as string[];
      throw error;
    });
    await Promise.all(names.filter((name) => name.startsWith(prefix)).map((name) => rm(path.join(directory, name), { force: true })));
  }

  #segmentFile(knowledgeBaseId: string, generation: number): string | null {
    if (this.#database.memory) return null;
    return path.join(path.dirname(this.#database.name), 'lexical-segments', `${encodeURIComponent(knowledgeBaseId)}.${generation}.segment`);
  }

  async changesSince(knowledgeBaseId: string, sequence: number): Promise<IndexChange[]> {
    const rows = this.#statement('SELECT * FROM index_changes WHERE knowledge_base_id = ? AND sequence > ? ORDER BY sequence').all(
      knowledgeBaseId,
      sequence,
    ) as ChangeRow[];
    return rows.map((row) => ({
      sequence: row.sequence,
      kind: row.kind,
      knowledgeBaseId: row.knowledge_base_id,
      generation: row.generation,
      documentId: row.document_id,
    }));
  }

  async documentPostings(knowledgeBaseId: string, generation: number, documentId: string): Promise<ChunkPostings[]> {
    const page = this.#statement(
      `SELECT id, document_id, ordinal, terms, vector FROM chunks WHERE knowledge_base_id = ? AND generation = ? AND document_id = ? AND ordinal > ?
       ORDER BY ordinal LIMIT ${postingsPageRows}`,
    );
    const postings: ChunkPostings[] = [];
    // In pages, and the parsing of each page in time slices: a large document has a hundred
    // thousand chunks, and a page of them took 80-90 ms to parse on a busy machine.
    const slice = new TimeSlice();
    for (let after = -1; ;) {
      const rows = page.all(knowledgeBaseId, generation, documentId, after) as Array<PostingRow & { ordinal: number }>;
      for (const row of rows) {
        postings.push(toPostings(row));
        await slice.yieldIfSpent();
      }
      if (rows.length < postingsPageRows) break;
      after = rows[rows.length - 1]!.ordinal;
    }
    return postings;
  }

  async getChunks(ids: string[]): Promise<Chunk[]> {
    if (ids.length === 0) return [];
    const placeholders = ids.map(() => '?').join(', ');
    const rows = this.#statement(
      `SELECT id, knowledge_base_id, generation, document_id, document_name, ordinal, page, start_offset,
         end_offset, text, tokens FROM chunks WHERE id IN (${placeholders})`,
    ).all(...ids) as ChunkRow[];
    const byId = new Map(rows.map((row) => [row.id, toChunk(row)]));
    return ids.flatMap((id) => {
      const chunk = byId.get(id);
      return chunk === undefined ? [] : [chunk];
    });
  }

  async countChunks(knowledgeBaseId: string, generation: number, documentId?: string): Promise<number> {
    const row =
      documentId === undefined
        ? this.#database.prepare('SELECT COUNT(*) AS count FROM chunks WHERE knowledge_base_id = ? AND generation = ?').get(knowledgeBaseId, generation)
        : this.#database
            .prepare('SELECT COUNT(*) AS count FROM chunks WHERE knowledge_base_id = ? AND generation = ? AND document_id = ?')
            .get(knowledgeBaseId, generation, documentId);
    return (row as { count: number }).count;
  }

  #statement(sql: string): Statement {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#database.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }
}
