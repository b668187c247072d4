export * from './shared-directory.js';
export * from './stub-openai-server.js';
export * from './api-process.js';
export * from './sse-client.js';
export * from './contracts/catalog-contract.js';
export * from './contracts/chunk-index-contract.js';
export * from './api-client.js';
export * from './seeded-random.js';
