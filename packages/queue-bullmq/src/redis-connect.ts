import type { Cluster, Redis } from 'ioredis';

/** Makes one Redis connection of the queue (`maxRetriesPerRequest: null` for the ones that block). */
export type RedisConnect = (purpose: { connectionName: string; maxRetriesPerRequest: number | null }) => Redis | Cluster;

/**
 * The start of every BullMQ key: the prefix as it is on a standalone Redis, where queues have
 * always lived under it; on a Redis Cluster wrapped in a hash tag (`{passage}`), so that all the
 * keys of a queue, which BullMQ's scripts touch together, share one slot (what BullMQ asks of a
 * cluster).
 */
export function bullMqKeyPrefix(prefix: string, cluster: boolean): string {
  return cluster ? `{${prefix}}` : prefix;
}
