import { describeApiEndToEnd, distributedDeployment } from '@passage/testing';

// The same suite as the embedded default, against the scaled mode the tests can run end to end:
// Redis catalog and BullMQ queue (a key prefix of their own, deleted afterwards), an API that only
// enqueues, and two worker processes; API and workers share DATA_DIR (embedded index, originals).
describeApiEndToEnd('Redis catalog, BullMQ workers, embedded index', distributedDeployment({ workers: 2 }));
