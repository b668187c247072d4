export * from './openai-chat-model.js';
export * from './map-openai-error.js';
export * from './openai-embedder.js';
export * from './node-http-fetch.js';
