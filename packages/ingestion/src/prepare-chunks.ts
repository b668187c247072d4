import type { DocumentParser, TextAnalyzer } from '@passage/spec';
import { BoundedParser } from './bounded-parser.js';
import type { ChunkingOptions } from './chunk.js';
import type { OcrPageStart } from './ocr.js';
import type { DocumentMetadata } from './parse-document.js';
import { prepareParsedDocument, type ParsedSummary, type PreparedChunk } from './prepare-document.js';

/** An analyzer that can be rebuilt in another thread from its options (as `createAnalyzer`'s are). */
interface PortableAnalyzer extends TextAnalyzer {
  readonly options: object;
}

function isPortable(analyzer: TextAnalyzer): analyzer is PortableAnalyzer {
  return typeof (analyzer as Partial<PortableAnalyzer>).options === 'object';
}

/**
 * Turns a document's bytes into its chunks with their terms. With the bounded parser and a
 * portable analyzer (the service's configuration) everything runs in the parsing thread and this
 * thread only collects the batches; any other parser (a tool's in-memory one) parses as it likes
 * and the chunks are made here.
 */
export async function prepareChunks(input: {
  parser: DocumentParser;
  analyzer: TextAnalyzer;
  chunking?: ChunkingOptions;
  bytes: Uint8Array;
  metadata: DocumentMetadata;
  signal: AbortSignal;
  onParsed?: (summary: ParsedSummary) => unknown;
  /** Hears of each page whose OCR starts (bounded parser only). */
  onOcrPage?: (page: OcrPageStart) => unknown;
}): Promise<ParsedSummary & { chunks: PreparedChunk[] }> {
  const { parser, analyzer, bytes, metadata, signal, onParsed, onOcrPage } = input;
  const chunking = input.chunking === undefined ? {} : { chunking: input.chunking };
  if (parser instanceof BoundedParser && isPortable(analyzer)) {
    return parser.prepare(bytes, metadata, { ...chunking, analyzer: analyzer.options }, signal, onParsed, onOcrPage);
  }
  const parsed = await parser.parse(bytes, metadata, signal);
  const summary: ParsedSummary = { type: parsed.type, pages: parsed.pages.length, ...(parsed.title === undefined ? {} : { title: parsed.title }) };
  await onParsed?.(summary);
  const chunks: PreparedChunk[] = [];
  prepareParsedDocument(parsed, analyzer, (batch) => chunks.push(...batch), chunking);
  return { ...summary, chunks };
}
