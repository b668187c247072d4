/**
 * `npm run fixtures [-- --out <dir>]`: writes the tiny embedding model the tests use (and that
 * `EMBEDDING_PROVIDER=local EMBEDDING_MODEL=<dir>` can load) into a folder, by default
 * `.tmp/fixture-embedding-model` (git-ignored). Nothing is downloaded; the model is generated.
 * Its vectors carry no meaning beyond shared words: it exercises the dense path, it does not rank.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeFixtureModel } from '@passage/embedder-transformers';
import { repositoryRoot } from '@passage/testing';

const { values } = parseArgs({ options: { out: { type: 'string' }, 'hidden-size': { type: 'string' } }, strict: true });
const directory = path.resolve(values.out ?? path.join(repositoryRoot, '.tmp', 'fixture-embedding-model'));
const hiddenSize = values['hidden-size'] === undefined ? undefined : Number(values['hidden-size']);
const model = await writeFixtureModel(directory, hiddenSize === undefined ? {} : { hiddenSize });
console.log(`Wrote a ${model.hiddenSize}-dimension fixture model (${model.vocabulary.length} tokens) to ${model.directory}`);
