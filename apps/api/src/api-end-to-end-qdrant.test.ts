import { describeApiEndToEnd, distributedQdrantDeployment } from '@passage/testing';

// The same suite once more with the chunk index in Qdrant (a stand-in that validates every exchange).
describeApiEndToEnd('Redis catalog, BullMQ workers, Qdrant index', distributedQdrantDeployment({ workers: 2, expectedOperation: 'query_points' }));
