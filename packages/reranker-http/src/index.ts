export * from './http-reranker.js';
