import type { DocumentType, ParsedDocument, TextAnalyzer } from '@passage/spec';
import { chunkPages, type ChunkDraft, type ChunkingOptions } from './chunk.js';

/** A chunk ready to be indexed, without ids: its draft and its lexical terms. */
export interface PreparedChunk extends ChunkDraft {
  /**
   * Term frequencies of the document's title and the chunk's text, as JSON: a string crosses
   * threads without per-key work and takes a fraction of an object's memory while the chunk waits
   * to be written (see terms-on-demand.ts).
   */
  termsJson: string;
}

/** What is known of a document once it is parsed, before its chunks. */
export interface ParsedSummary {
  type: DocumentType;
  pages: number;
  title?: string;
}

export interface PreparationBatchOptions {
  /** Chunks handed on at once, at most. Default: 64. */
  maxChunks?: number;
  /** Characters of chunk text handed on at once, roughly at most. Default: 65536. */
  maxCharacters?: number;
}

/**
 * Chunks a parsed document and analyzes every chunk (the title is indexed with each of them: a
 * passage rarely repeats what its title says), yielding the chunks in batches so that no one
 * message, and no one step of the receiver, grows with the document. Lazy: a batch is analyzed
 * when it is asked for, so the parsing thread never holds every chunk's terms at once. Returns the
 * number of chunks.
 */
export function* preparedBatches(
  parsed: ParsedDocument,
  analyzer: TextAnalyzer,
  options: { chunking?: ChunkingOptions; batch?: PreparationBatchOptions } = {},
): Generator<PreparedChunk[], number, undefined> {
  const maxChunks = options.batch?.maxChunks ?? 64;
  const maxCharacters = options.batch?.maxCharacters ?? 64 * 1024;
  const title = parsed.title?.trim() ?? '';
  const drafts = chunkPages(parsed.pages, options.chunking);
  let batch: PreparedChunk[] = [];
  let characters = 0;
  for (const draft of drafts) {
    const terms = analyzer.termFrequencies(title === '' ? draft.text : `${title}\n${draft.text}`);
    batch.push({ ...draft, termsJson: JSON.stringify(terms) });
    characters += draft.text.length;
    if (batch.length >= maxChunks || characters >= maxCharacters) {
      yield batch;
      batch = [];
      characters = 0;
    }
  }
  if (batch.length > 0) yield batch;
  return drafts.length;
}

/** {@link preparedBatches}, each batch handed to `emit` at once; returns the number of chunks. */
export function prepareParsedDocument(
  parsed: ParsedDocument,
  analyzer: TextAnalyzer,
  emit: (chunks: PreparedChunk[]) => void,
  options: { chunking?: ChunkingOptions; batch?: PreparationBatchOptions } = {},
): number {
  const batches = preparedBatches(parsed, analyzer, options);
  for (let next = batches.next(); ; next = batches.next()) {
    if (next.done === true) return next.value;
    emit(next.value);
  }
}
