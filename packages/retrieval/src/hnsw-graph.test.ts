import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { temporaryDataDirectory } from '@passage/testing';
import { encodeGraphIds, readGraphIds } from './hnsw-graph.js';

test('an ids file gives back the ids it was written with (any UTF-8), and null when damaged, cut short or of another count', async () => {
  const directory = await temporaryDataDirectory();
  const file = path.join(directory, 'graph.usearch.ids');
  const ids = Array.from({ length: 10_000 }, (_, index) => (index % 3 === 0 ? `块-${index}` : index % 3 === 1 ? `chunk:${index}:é` : ''));
  const bytes = encodeGraphIds(ids);
  await writeFile(file, bytes);
  const table = await readGraphIds(file, ids.length);
  assert.deepEqual(
    Array.from({ length: table?.size ?? 0 }, (_, number) => table?.idOf(number)),
    ids,
  );
  assert.equal(table?.numberOf(ids[4] as string), 4);
  assert.equal(await readGraphIds(file, ids.length - 1), null);
  await writeFile(file, bytes.subarray(0, bytes.byteLength - 3));
  assert.equal(await readGraphIds(file, ids.length), null);
  const overlapping = bytes.slice();
  new DataView(overlapping.buffer).setUint32(8, 0xffff, true);
  await writeFile(file, overlapping);
  assert.equal(await readGraphIds(file, ids.length), null);
  await writeFile(file, encodeGraphIds([]));
  assert.equal((await readGraphIds(file, 0))?.size, 0);
});
