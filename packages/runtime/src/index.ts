export * from './runtime.js';
export * from './load-config-or-exit.js';
