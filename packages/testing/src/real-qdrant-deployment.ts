import { distributedDeployment, type Deploy, type DistributedOptions } from './deployments.js';

/**
 * The scaled mode against a real Qdrant server at `qdrantUrl` (QDRANT_URL): as distributedDeployment,
 * and `stop` also drops every collection the deployment made (its collection prefix is unique).
 */
export function realQdrantDeployment(qdrantUrl: string, options: Omit<DistributedOptions, 'qdrantUrl'> = {}): Deploy {
  return async (env = {}) => {
    const deployment = await distributedDeployment({ ...options, qdrantUrl })(env);
    const prefix = deployment.env.QDRANT_COLLECTION_PREFIX;
    return {
      ...deployment,
      async stop() {
        await deployment.stop();
        if (prefix === undefined) return;
        await dropCollections(qdrantUrl, `${prefix}_`);
      },
    };
  };
}

/** Deletes every collection of the server whose name starts with `namePrefix` (their aliases go with them). */
export async function dropCollections(qdrantUrl: string, namePrefix: string): Promise<void> {
  const root = qdrantUrl.replace(/\/+$/, '');
  const response = await fetch(`${root}/collections`);
  if (!response.ok) throw new Error(`Qdrant at ${root} answered ${response.status} to a collection list`);
  const body = (await response.json()) as { result: { collections: Array<{ name: string }> } };
  for (const { name } of body.result.collections) {
    if (!name.startsWith(namePrefix)) continue;
    const deleted = await fetch(`${root}/collections/${encodeURIComponent(name)}`, { method: 'DELETE' });
    if (!deleted.ok) throw new Error(`Qdrant at ${root} answered ${deleted.status} to deleting ${name}`);
  }
}
