export * from './beir-dataset.js';
export * from './retrieval-metrics.js';
export * from './corpus-record-parser.js';
export * from './memory-file-store.js';
export * from './run-evaluation.js';
export * from './sample-dataset.js';
export * from './progress-bar.js';
