export * from './prompt.js';
export * from './citations.js';
export * from './extractive-answer.js';
export * from './answer-service.js';
