import { startApiProcess, type ApiProcess } from './api-process.js';
import { createTextKnowledgeBase } from './answer-client.js';
import { startStubOpenAiServer, type StubOpenAiServer } from './stub-openai-server.js';

/** The environment that points an API process at a stub model. */
export function stubModelEnvironment(stub: StubOpenAiServer): Record<string, string> {
  return { OPENAI_BASE_URL: stub.baseUrl, OPENAI_API_KEY: 'sk-test', LLM_MODEL: 'stub-model' };
}

export interface ModelBackedApi {
  stub: StubOpenAiServer;
  api: ApiProcess;
  knowledgeBaseId: string;
  stop: () => Promise<void>;
}

/**
 * An API process answering with a stub model, and one knowledge base of text documents: the
 * setup of every test of answers with a model. `env` adds to (or overrides) the model's settings.
 */
export async function startModelBackedApi(name: string, documents: Record<string, string>, env: Record<string, string> = {}): Promise<ModelBackedApi> {
  const stub = await startStubOpenAiServer();
  try {
    const api = await startApiProcess({ env: { ...stubModelEnvironment(stub), ...env } });
    try {
      const { knowledgeBaseId } = await createTextKnowledgeBase(api, name, documents);
      return {
        stub,
        api,
        knowledgeBaseId,
        stop: async () => {
          await api.stop();
          await stub.close();
        },
      };
    } catch (error) {
      await api.stop();
      throw error;
    }
  } catch (error) {
    await stub.close();
    throw error;
  }
}
