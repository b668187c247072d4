export * from './redis-catalog.js';
export * from './redis-keys.js';
export * from './redis-error.js';
export * from './redis-api-key-store.js';
export * from './redis-rate-limiter.js';
export * from './redis-client.js';
