import { after } from 'node:test';
import { describeApiEndToEnd, distributedDeployment, startRedisCluster } from '@passage/testing';

// The distributed suite (api-end-to-end-distributed.test.ts) on a Redis Cluster of three masters
// started for it on loopback ports: REDIS_CLUSTER=true, the catalog's knowledge bases under hash
// tags, BullMQ's prefix in one; an API that only enqueues and two worker processes.
const cluster = await startRedisCluster();
after(() => cluster.stop());

describeApiEndToEnd(`${cluster.description}, BullMQ workers, embedded index`, distributedDeployment({ workers: 2, redis: cluster }));
