export * from './database.js';
export * from './sqlite-catalog.js';
export * from './sqlite-chunk-store.js';
export * from './local-file-store.js';
export * from './sqlite-api-key-store.js';
export * from './random-access-file.js';
