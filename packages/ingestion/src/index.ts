export * from './detect-type.js';
export * from './parse-document.js';
export * from './bounded-parser.js';
export * from './sentence-split.js';
export * from './chunk.js';
export * from './ingestion-service.js';
export * from './in-process-queue.js';
