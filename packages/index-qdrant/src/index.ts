export * from './qdrant-chunk-index.js';
export * from './collection-names.js';
export * from './sparse-vector.js';
