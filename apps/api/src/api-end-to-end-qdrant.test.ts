import { describeApiEndToEnd, distributedQdrantDeployment, realQdrantDeployment } from '@passage/testing';

// The same suite once more with the chunk index in Qdrant (a stand-in that validates every exchange).
describeApiEndToEnd('Redis catalog, BullMQ workers, Qdrant index', distributedQdrantDeployment({ workers: 2, expectedOperation: 'query_points' }));

// And against the real server when there is one (QDRANT_URL; .ci/run starts one when a binary is
// there, and the test runner's first line says which ran).
const qdrantUrl = process.env.QDRANT_URL;
if (qdrantUrl !== undefined && qdrantUrl !== '') {
  describeApiEndToEnd(`Redis catalog, BullMQ workers, the real Qdrant at ${qdrantUrl}`, realQdrantDeployment(qdrantUrl, { workers: 2 }));
}
