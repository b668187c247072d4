export * from './analyzer.js';
export * from './bm25-index.js';
export * from './vector-index.js';
export * from './top-heap.js';
export * from './reciprocal-rank-fusion.js';
export * from './local-chunk-index.js';
export * from './retriever.js';
export * from './sentence-split.js';
