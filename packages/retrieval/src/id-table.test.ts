import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeGraphIds } from './hnsw-graph.js';
import { IdTable } from './id-table.js';

const ids = Array.from({ length: 20_000 }, (_, index) => (index % 5 === 0 ? `文档-${index}:块` : `kb_1:doc-${index}:${index % 7}`));

test('IdTable numbers ids in their order, finds each by its UTF-8, and says −1 for others', async () => {
  const table = await IdTable.of(ids);
  assert.equal(table.size, ids.length);
  ids.forEach((id, number) => {
    assert.equal(table.numberOf(id), number);
    assert.equal(table.idOf(number), id);
  });
  for (const other of ['', 'kb_1:doc-1:2', '文档-0:块x', 'x'.repeat(1000)]) assert.equal(table.numberOf(other), -1);
  const repeated = await IdTable.of(['a', 'b', 'a']);
  assert.equal(repeated.numberOf('a'), 0, 'a repeated id keeps its first number');
  assert.equal(repeated.idOf(2), 'a');
});

test("IdTable made from an ids file's bytes equals the one made from the strings; offsets that do not fit the text are refused", async () => {
  const bytes = encodeGraphIds(ids);
  const header = 4 * (ids.length + 2);
  const offsets = new Uint32Array(bytes.buffer.slice(4, header));
  const table = await IdTable.fromEncoded(bytes.subarray(header), offsets);
  assert.ok(table !== null);
  for (const number of [0, 1, 4, 5, 19_999]) assert.equal(table.idOf(number), ids[number]);
  assert.equal(table.numberOf(ids[12_345] as string), 12_345);
  const descending = offsets.slice();
  descending[3] = 0;
  assert.equal(await IdTable.fromEncoded(bytes.subarray(header), descending), null);
  assert.equal(await IdTable.fromEncoded(bytes.subarray(header, bytes.byteLength - 1), offsets), null);
});

test('IdTable takes ids one at a time (numbers in order, its index growing) and forgets some: their numbers are never given again', () => {
  const table = IdTable.empty();
  ids.forEach((id, number) => assert.equal(table.add(id), number));
  assert.throws(() => table.add(ids[3] as string), /in the table already/);
  for (let number = 0; number < ids.length; number += 3) assert.equal(table.forget(ids[number] as string), number);
  assert.equal(table.forget(ids[0] as string), -1);
  assert.equal(table.numberOf(ids[0] as string), -1);
  assert.equal(table.idOf(0), ids[0], 'a forgotten number still names its id');
  assert.equal(table.isForgotten(0), true);
  assert.equal(table.isForgotten(1), false);
  assert.equal(table.numberOf(ids[1] as string), 1);
  // Added again: a new number; growing the index keeps the forgotten ones out.
  assert.equal(table.add(ids[0] as string), ids.length);
  for (let extra = 0; extra < 30_000; extra += 1) table.add(`extra-${extra}`);
  assert.equal(table.numberOf(ids[0] as string), ids.length);
  assert.equal(table.numberOf(ids[3] as string), -1);
  assert.equal(table.numberOf(ids[4] as string), 4);
  assert.equal(table.numberOf('extra-29999'), ids.length + 30_000);
  assert.equal(table.size, ids.length + 30_001);
});

test("IdTable finds another table's id by its bytes, as it finds the string", async () => {
  const table = await IdTable.of(ids);
  const other = IdTable.empty();
  for (const id of ['x', ids[9] as string, 'kb_1:doc-1:1x', ids[10] as string]) other.add(id);
  assert.deepEqual(
    [0, 1, 2, 3].map((number) => table.numberOfIdIn(other, number)),
    [-1, 9, -1, 10],
  );
});
