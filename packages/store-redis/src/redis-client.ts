import { Cluster, Redis, type RedisOptions } from 'ioredis';

/** A connection to a standalone Redis, or to a Redis Cluster (REDIS_CLUSTER). */
export type RedisClient = Redis | Cluster;

export interface RedisClientOptions {
  /**
   * `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. With `cluster`, one node of
   * the cluster: the others are discovered from it, and only database 0 exists.
   */
  url: string;
  /** `true`: `url` names a node of a Redis Cluster and the client is an ioredis `Cluster`. Default: false. */
  cluster?: boolean;
  /** `CLIENT SETNAME` of every connection, to tell them apart in `CLIENT LIST`. */
  connectionName: string;
  /**
   * Reconnection attempts a command waits for before it fails; `null` waits for ever (what BullMQ
   * requires of its blocking connections). Default: ioredis's (20).
   */
  maxRetriesPerRequest?: number | null;
}

/**
 * The one place the runtime's Redis connections are made: a plain ioredis `Redis` for a standalone
 * server, an ioredis `Cluster` seeded from the URL's node when `cluster` is set. In cluster mode the
 * URL's user, password and TLS (`rediss://`) apply to every node; a database other than 0 is refused,
 * since a cluster has none.
 */
export function createRedisClient(options: RedisClientOptions): RedisClient {
  const retries = options.maxRetriesPerRequest === undefined ? {} : { maxRetriesPerRequest: options.maxRetriesPerRequest };
  if (options.cluster !== true) return new Redis(options.url, { connectionName: options.connectionName, ...retries });
  const seed = new URL(options.url);
  const database = seed.pathname.replace(/^\//, '');
  if (database !== '' && database !== '0') {
    throw new RangeError(`A Redis Cluster has only database 0; the URL names database ${database}`);
  }
  const redisOptions: RedisOptions = { connectionName: options.connectionName, ...retries };
  if (seed.username !== '') redisOptions.username = decodeURIComponent(seed.username);
  if (seed.password !== '') redisOptions.password = decodeURIComponent(seed.password);
  if (seed.protocol === 'rediss:') redisOptions.tls = {};
  // An IPv6 host comes out of URL with its brackets.
  const host = seed.hostname.replace(/^\[(.*)\]$/, '$1');
  return new Cluster([{ host, port: seed.port === '' ? 6379 : Number(seed.port) }], { redisOptions });
}

/** Whether a client talks to a Redis Cluster (whose keys spread over slots). */
export function isClusterClient(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}
