export * from './transformers-embedder.js';
export * from './embedding-model-profile.js';
export * from './fixture-model.js';
export * from './bert-onnx-model.js';
