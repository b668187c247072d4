export * from './errors.js';
export * from './types.js';
export * from './ports.js';
export * from './config.js';
export * from './ids.js';
export * from './token-estimate.js';
export * from './time-slice.js';
export * from './seeded-random.js';
