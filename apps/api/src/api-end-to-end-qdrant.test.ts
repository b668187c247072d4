import assert from 'node:assert/strict';
import { describeApiEndToEnd, distributedDeployment, startFakeQdrantServer } from '@passage/testing';

// The same suite once more with the chunk index in Qdrant: a fake Qdrant in this process that
// checks every request the API and the workers send against Qdrant's OpenAPI description.
describeApiEndToEnd('Redis catalog, BullMQ workers, Qdrant index', async (env) => {
  const qdrant = await startFakeQdrantServer();
  const deployment = await distributedDeployment({ workers: 2, qdrantUrl: qdrant.url })(env).catch(async (error: unknown) => {
    await qdrant.close();
    throw error;
  });
  return {
    ...deployment,
    async stop() {
      await deployment.stop();
      await qdrant.close();
      assert.ok(
        qdrant.exchanges.some((exchange) => exchange.operationId === 'query_points'),
        'searches went to Qdrant',
      );
      assert.deepEqual(qdrant.problems(), [], 'every Qdrant request and answer validates against the OpenAPI schema');
    },
  };
});
