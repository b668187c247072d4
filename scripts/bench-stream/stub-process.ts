/**
 * The stub LLM of `bench:stream`, in a process of its own: an OpenAI-compatible server that
 * answers every chat completion with a fixed stream. Prints `{"port":…}` once it listens.
 *
 * Arguments: --first-token-ms (default 200) --token-interval-ms (20) --tokens (40)
 */
import { startStubOpenAiServer } from '@passage/testing';
import { numberArgument } from './arguments.js';

const firstTokenDelayMs = numberArgument('--first-token-ms', 200);
const tokenIntervalMs = numberArgument('--token-interval-ms', 20);
const tokenCount = numberArgument('--tokens', 40);

const stub = await startStubOpenAiServer(
  [{ kind: 'stream', tokens: Array.from({ length: tokenCount }, (_, position) => `token${position} `), firstTokenDelayMs, tokenIntervalMs }],
  { record: false },
);
console.log(JSON.stringify({ port: Number(new URL(stub.url).port) }));
process.on('SIGTERM', () => void stub.close().then(() => process.exit(0)));
