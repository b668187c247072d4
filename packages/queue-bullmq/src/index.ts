export * from './bullmq-ingestion-queue.js';
export * from './redis-connect.js';
