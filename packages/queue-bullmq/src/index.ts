export * from './bullmq-ingestion-queue.js';
