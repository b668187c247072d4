export * from './transformers-reranker.js';
export * from './fixture-cross-encoder.js';
