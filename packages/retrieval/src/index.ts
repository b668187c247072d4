export * from './analyzer.js';
export * from './bm25-index.js';
export * from './local-chunk-index.js';
export * from './retriever.js';
