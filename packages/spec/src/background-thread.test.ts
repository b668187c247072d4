import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getPriority } from 'node:os';
import { Worker } from 'node:worker_threads';

test('lowerThisThreadsPriority lowers the calling worker thread to nice 10 and leaves the main thread as it was', async () => {
  const before = getPriority(process.pid);
  const moduleUrl = new URL('./background-thread.ts', import.meta.url).href;
  const worker = new Worker(
    // tsx's loader is registered in the thread first, as the service's own thread bootstraps do.
    `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
       .then((tsx) => { tsx.register(); return import(${JSON.stringify(moduleUrl)}); })
       .then(({ lowerThisThreadsPriority }) => {
         const { readlinkSync } = require('node:fs');
         const { getPriority } = require('node:os');
         const changed = lowerThisThreadsPriority();
         const threadId = Number(readlinkSync('/proc/thread-self').split('/').at(-1));
         require('node:worker_threads').parentPort.postMessage({ changed, nice: getPriority(threadId) });
       });`,
    { eval: true },
  );
  const reply = await new Promise<{ changed: boolean; nice: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  assert.deepEqual(reply, { changed: true, nice: 10 });
  assert.equal(getPriority(process.pid), before);
});
