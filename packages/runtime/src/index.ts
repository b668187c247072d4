export * from './runtime.js';
export * from './load-config-or-exit.js';
export * from './create-chat-model.js';
export * from './create-embedder.js';
export * from './create-reranker.js';
export * from './create-storage.js';
export * from './create-queue.js';
export * from './ingestion-metrics.js';
