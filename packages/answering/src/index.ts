export * from './prompt.js';
export * from './citations.js';
export * from './extractive-answer.js';
export * from './condense-question.js';
export * from './answer-service.js';
