export * from './local-chat-model.js';
export * from './generation-slots.js';
export * from './node-llama-cpp-binding.js';
export * from './tiny-model.js';
