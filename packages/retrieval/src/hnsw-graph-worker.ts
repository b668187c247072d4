/**
 * The thread that builds an HNSW graph (see hnsw-graph-thread.ts): it takes pages of vectors as
 * they come, inserts them with usearch (its own native threads: `threads`), and on `finish` saves
 * the graph and the ids of its keys, hashes both files and writes the description beside them.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parentPort } from 'node:worker_threads';
import { lowerThisThreadsPriority } from '@passage/spec';
import * as usearch from 'usearch';
import { encodeGraphIds, hnswGraphFormat, newUsearchIndex, type HnswGraphDescription } from './hnsw-graph.js';
import type { HnswThreadReply, HnswThreadRequest } from './hnsw-graph-thread.js';

const port = parentPort;
if (port === null) throw new Error('hnsw-graph-worker runs as a worker thread');
// usearch's own threads, started from this one, inherit its priority.
lowerThisThreadsPriority();
const reply = (message: HnswThreadReply) => port.postMessage(message);

let index: ReturnType<typeof newUsearchIndex> | null = null;
let start: Extract<HnswThreadRequest, { kind: 'start' }> | null = null;
const ids: string[] = [];
const started = performance.now();

port.on('message', (message: HnswThreadRequest) => {
  try {
    if (message.kind === 'start') {
      start = message;
      index = newUsearchIndex(usearch, message.dimensions, { ...message.parameters, expansionSearch: message.parameters.expansionAdd });
    } else if (message.kind === 'vectors') {
      if (index === null || start === null) throw new Error('vectors before start');
      const count = message.ids.length;
      if (count === 0) return;
      const keys = new BigUint64Array(count);
      for (let offset = 0; offset < count; offset += 1) keys[offset] = BigInt(ids.length + offset);
      index.add(keys, message.vectors, start.threads);
      ids.push(...message.ids);
    } else {
      if (index === null || start === null) throw new Error('finish before start');
      index.save(start.graphFile);
      const bytes = readFileSync(start.graphFile);
      const idsFile = `${start.graphFile}.ids`;
      const idBytes = encodeGraphIds(ids);
      writeFileSync(idsFile, idBytes);
      const description: HnswGraphDescription = {
        format: hnswGraphFormat,
        knowledgeBaseId: start.knowledgeBaseId,
        generation: start.generation,
        sequence: start.sequence,
        dimensions: start.dimensions,
        connectivity: start.parameters.connectivity,
        expansionAdd: start.parameters.expansionAdd,
        graphFile: path.basename(start.graphFile),
        bytes: bytes.byteLength,
        sha256: createHash('sha256').update(bytes).digest('hex'),
        idsFile: path.basename(idsFile),
        idCount: ids.length,
        idsSha256: createHash('sha256').update(idBytes).digest('hex'),
      };
      writeFileSync(start.descriptionFile, JSON.stringify(description));
      reply({ kind: 'done', count: ids.length, bytes: bytes.byteLength, buildMs: performance.now() - started });
    }
  } catch (error) {
    reply({ kind: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  }
});
