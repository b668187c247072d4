/**
 * A test file that narrows the run (a call of `only`), skips tests (a call of `skip`) or leaves
 * them to do (`todo` as a call or an option) makes a green run claim more than it checked: none
 * may be committed. This file is checked too, so it spells none of those forms out.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';

const root = path.resolve(import.meta.dirname, '..');

const forbidden: { name: string; pattern: RegExp }[] = [
  { name: 'a call of only', pattern: /\.only\s*\(/ },
  { name: 'a call of skip', pattern: /\.skip\s*\(/ },
  { name: 'todo as a call or an option', pattern: /\btodo\b\s*[(:]/ },
];

async function testFiles(directory: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue;
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) found.push(...(await testFiles(full)));
    else if (entry.name.endsWith('.test.ts')) found.push(full);
  }
  return found;
}

function offences(text: string): string[] {
  return text
    .split('\n')
    .flatMap((line, index) => forbidden.filter(({ pattern }) => pattern.test(line)).map(({ name }) => `${index + 1}: ${name}  ${line.trim()}`));
}

test('the patterns catch each form they are meant to', () => {
  // Put together from parts, so that this file holds none of the forms and is checked like the others.
  const [only, skip, todo] = ['only', 'skip', 'todo'];
  const samples = [
    `test.${only}('x', () => {});`,
    `describe.${skip}('x', () => {});`,
    `t.${skip}();`,
    `test('x', { ${todo}: true }, () => {});`,
    `t.${todo}('later');`,
  ];
  for (const sample of samples) assert.equal(offences(sample).length, 1, sample);
  assert.deepEqual(offences("test('skips an empty page and keeps the todo list', () => {});"), []);
});

test('no test file is narrowed with only, skipped or left to do', async () => {
  const files = [
    ...(await testFiles(path.join(root, 'packages'))),
    ...(await testFiles(path.join(root, 'apps'))),
    ...(await testFiles(path.join(root, 'scripts'))),
  ];
  assert.ok(files.length > 10, `expected the project's test files, found ${files.length}`);
  const found: string[] = [];
  for (const file of files) {
    for (const offence of offences(await readFile(file, 'utf8'))) found.push(`${path.relative(root, file)}:${offence}`);
  }
  assert.deepEqual(found, []);
});
