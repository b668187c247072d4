import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readdir, stat, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { seededRandom } from '@passage/spec';
import { temporaryDataDirectory } from '@passage/testing';
import { DenseIndex, type DenseIndexOptions } from './dense-index.js';
import { loadUsearch } from './hnsw-graph.js';

function randomVectors(count: number, dimensions: number, seed: number, prefix = 'v'): Array<{ id: string; vector: Float32Array }> {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, number) => ({
    id: `${prefix}-${number}`,
    vector: Float32Array.from({ length: dimensions }, () => random() * 2 - 1),
  }));
}

const target = { knowledgeBaseId: 'kb', generation: 1 };

/** CPU time of this (the main) thread so far, ms, from Linux's /proc (ticks of 10 ms). */
function thisThreadCpuMs(): number {
  const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
const ids = (hits: Array<{ id: string }>) => hits.map((hit) => hit.id);
const nothingChanged = async () => new Set<string>();

describe('DenseIndex', () => {
  let directory: string;
  const indexes: DenseIndex[] = [];
  const open = (options: DenseIndexOptions = {}) => {
    const index = new DenseIndex(target, { mode: 'approximate', directory, onBackgroundError: (error) => assert.fail(error), ...options });
    indexes.push(index);
    return index;
  };
  /** An index holding `vectors`, with its graph built. */
  const built = async (vectors: Array<{ id: string; vector: Float32Array }>, options: DenseIndexOptions = {}) => {
    const index = open(options);
    index.add(vectors);
    index.maintain(1);
    await index.idle();
    assert.equal(index.approximate, true);
    return index;
  };

  beforeEach(async () => {
    directory = await temporaryDataDirectory();
  });
  afterEach(async () => {
    for (const index of indexes.splice(0)) await index.close();
    await rm(directory, { recursive: true, force: true });
  });

  it('finds at least 95% of the exact top 10 on random 384-dimension unit vectors', async () => {
    const index = await built(randomVectors(2_000, 384, 1));
    const queries = randomVectors(50, 384, 2, 'q');
    let found = 0;
    for (const { vector } of queries) {
      const exact = new Set(ids(index.exact.search(vector, 10)));
      found += ids(index.search(vector, 10)).filter((id) => exact.has(id)).length;
    }
    const recall = found / (queries.length * 10);
    assert.ok(recall >= 0.95, `recall@10 ${recall}`);
  });

  it('searches exactly below DENSE_APPROXIMATE_FROM in auto mode, and builds no graph there', async () => {
    const index = open({ mode: 'auto', approximateFrom: 500 });
    index.add(randomVectors(400, 16, 3));
    index.maintain(1);
    await index.idle();
    assert.equal(index.approximate, false);
    assert.deepEqual(await readdir(directory), []);
  });

  it('never returns a removed vector, and returns a replaced one with its new vector', async () => {
    const vectors = randomVectors(600, 32, 4);
    const index = await built(vectors, { changesBeforeRebuild: 10_000 });
    const removed = new Set(vectors.filter((_, number) => number % 3 === 0).map((entry) => entry.id));
    index.remove(removed);
    const replacement = randomVectors(1, 32, 5)[0]!.vector;
    index.add([{ id: 'v-1', vector: replacement }]);
    assert.equal(index.approximate, true);
    for (const { vector } of [...randomVectors(30, 32, 6, 'q'), ...vectors.slice(0, 30)]) {
      const hits = index.search(vector, 20);
      assert.equal(hits.length, 20);
      for (const id of ids(hits)) assert.ok(!removed.has(id), `${id} was removed`);
    }
    assert.equal(index.search(replacement, 1)[0]?.id, 'v-1');
    assert.notEqual(index.search(vectors[1]!.vector, 1)[0]?.id, 'v-1');
  });

  it('rebuilds the graph in the background once the changes pass the bound, and drops the stale keys', async () => {
    const vectors = randomVectors(300, 16, 7);
    const index = await built(vectors, { changesBeforeRebuild: 50 });
    index.remove(vectors.slice(0, 60).map((entry) => entry.id));
    index.maintain(2);
    await index.idle();
    const [graphFile, ...others] = (await readdir(directory)).filter((name) => name.endsWith('.usearch'));
    assert.ok(graphFile !== undefined && others.length === 0, 'one graph file, the new one');
    const restarted = open();
    restarted.add(vectors.slice(60));
    await restarted.open(nothingChanged);
    assert.equal(restarted.approximate, true);
    assert.deepEqual(ids(restarted.search(vectors[100]!.vector, 10)), ids(index.search(vectors[100]!.vector, 10)));
  });

  it('after a restart, maps the kept graph without building and answers the same', async () => {
    const vectors = randomVectors(1_000, 48, 8);
    const first = await built(vectors);
    const queries = randomVectors(20, 48, 9, 'q');
    const before = queries.map(({ vector }) => first.search(vector, 10));
    const restarted = open();
    restarted.add(vectors);
    await restarted.open(nothingChanged);
    assert.equal(restarted.approximate, true, 'the kept graph is in use before any build');
    assert.deepEqual(
      queries.map(({ vector }) => restarted.search(vector, 10)),
      before,
    );
  });

  it('after a restart, treats the chunks the feed says changed as changed: the new vector is found, the old one is not', async () => {
    const vectors = randomVectors(500, 24, 10);
    await built(vectors);
    const moved = randomVectors(1, 24, 11)[0]!.vector;
    const restarted = open();
    restarted.add([...vectors.slice(1), { id: 'v-0', vector: moved }]);
    await restarted.open(async () => new Set(['v-0']));
    assert.equal(restarted.approximate, true);
    assert.equal(restarted.search(moved, 1)[0]?.id, 'v-0');
    assert.notEqual(restarted.search(vectors[0]!.vector, 1)[0]?.id, 'v-0');
  });

  it('builds again when the kept graph is damaged, stale, or of other dimensions', async () => {
    const vectors = randomVectors(400, 16, 12);
    await built(vectors);
    const graphFile = (await readdir(directory)).find((name) => name.endsWith('.usearch'))!;
    const damage = async () => writeFile(path.join(directory, graphFile), Buffer.alloc(64, 7), { flag: 'r+' });

    await damage();
    const afterDamage = open();
    afterDamage.add(vectors);
    await afterDamage.open(nothingChanged);
    assert.equal(afterDamage.approximate, false, 'a damaged file is not mapped');
    assert.deepEqual(await readdir(directory), [], 'and is deleted');
    afterDamage.maintain(1);
    await afterDamage.idle();
    assert.equal(afterDamage.approximate, true, 'a new graph replaces it');

    const tooOld = open();
    tooOld.add(vectors);
    await tooOld.open(async () => null);
    assert.equal(tooOld.approximate, false, 'a graph the feed cannot bring up to date is not used');
    tooOld.maintain(1);
    await tooOld.idle();

    const otherModel = open();
    otherModel.add(randomVectors(400, 8, 13));
    await otherModel.open(nothingChanged);
    assert.equal(otherModel.approximate, false, 'a graph of another dimension is not used');
  });

  it('builds its graph from the vectors held: one replaced or removed before the build is in it once, with its last vector, or not at all', async () => {
    const vectors = randomVectors(300, 16, 16);
    const index = open();
    index.add(vectors);
    const replacement = randomVectors(1, 16, 17)[0]!.vector;
    index.add([{ id: 'v-5', vector: replacement }]);
    index.remove(['v-6']);
    index.maintain(1);
    await index.idle();
    assert.equal(index.approximate, true);
    const hits = index.search(replacement, 300);
    assert.equal(hits.filter((hit) => hit.id === 'v-5').length, 1);
    assert.equal(hits[0]?.id, 'v-5');
    assert.equal(hits.filter((hit) => hit.id === 'v-6').length, 0);
    assert.equal(new Set(hits.map((hit) => hit.id)).size, hits.length);
  });

  it("keeps the ids of the graph's keys in a file of their own, and builds again when that file is damaged", async () => {
    const vectors = randomVectors(400, 16, 15);
    await built(vectors);
    const names = await readdir(directory);
    const idsFile = names.find((name) => name.endsWith('.usearch.ids'));
    assert.ok(idsFile !== undefined, `no ids file among ${names.join(', ')}`);
    const description = names.find((name) => name.endsWith('.json'))!;
    assert.ok((await stat(path.join(directory, description))).size < 1024, 'the description stays small');
    const restarted = open();
    restarted.add(vectors);
    await restarted.open(nothingChanged);
    assert.equal(restarted.approximate, true);
    assert.equal(restarted.search(vectors[7]!.vector, 1)[0]?.id, vectors[7]!.id);
    await writeFile(path.join(directory, idsFile), Buffer.from('v-1'), { flag: 'r+' });
    const afterDamage = open();
    afterDamage.add(vectors);
    await afterDamage.open(nothingChanged);
    assert.equal(afterDamage.approximate, false, 'a graph whose ids file is damaged is not used');
    assert.deepEqual(await readdir(directory), [], 'and its files are deleted');
  });

  it('builds the graph of 10,000 vectors off this thread: it spends a small part of the CPU the build takes, and its event loop keeps turning', async () => {
    // usearch itself is loaded once per process, on this thread (its module's evaluation): not part of a build.
    assert.notEqual(await loadUsearch(), null);
    const index = open();
    index.add(randomVectors(10_000, 32, 14));
    let turns = 0;
    let building = true;
    let longestMs = 0;
    let last = performance.now();
    const tick = () => {
      const now = performance.now();
      longestMs = Math.max(longestMs, now - last);
      last = now;
      turns += 1;
      if (building) setTimeout(tick, 1);
    };
    setTimeout(tick, 1);
    // CPU, not wall time: on a loaded machine a thread waits for a core without anything holding it.
    const processBefore = process.cpuUsage();
    const threadBefore = thisThreadCpuMs();
    index.maintain(1);
    await index.idle();
    building = false;
    const processMs = (process.cpuUsage(processBefore).user + process.cpuUsage(processBefore).system) / 1_000;
    const threadMs = thisThreadCpuMs() - threadBefore;
    assert.equal(index.approximate, true);
    assert.ok(turns > 10, `the event loop turned ${turns} times during the build (longest wait ${longestMs.toFixed(0)} ms)`);
    assert.ok(threadMs < processMs / 4, `this thread spent ${threadMs} ms of the build's ${processMs.toFixed(0)} ms of CPU`);
  });
});
