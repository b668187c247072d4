export * from './detect-type.js';
export * from './bounded-parser.js';
export type { DocumentMetadata } from './parse-document.js';
export * from './chunk.js';
export * from './ingestion-service.js';
export * from './in-process-queue.js';
export * from './reindexer.js';
export * from './document-passwords.js';
export type { OcrSettings } from './ocr.js';
