/**
 * `npm run fixtures:reranker [-- --out <dir>]`: writes the tiny cross-encoder the tests use (and that
 * `RERANK_PROVIDER=local RERANK_MODEL=<dir>` can load) into a folder, by default
 * `.tmp/fixture-cross-encoder` (git-ignored). Nothing is downloaded; the model is generated, fp32
 * and q8. Its scores carry no meaning: it exercises the rerank path, it does not rank.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeFixtureCrossEncoder } from '@passage/reranker-transformers';
import { repositoryRoot } from '@passage/testing';

const { values } = parseArgs({ options: { out: { type: 'string' } }, strict: true });
const directory = path.resolve(values.out ?? path.join(repositoryRoot, '.tmp', 'fixture-cross-encoder'));
await writeFixtureCrossEncoder(directory);
console.log(`Wrote the fixture cross-encoder to ${directory}`);
