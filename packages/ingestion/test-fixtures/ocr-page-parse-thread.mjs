// A parsing thread that reads one page by OCR: it announces the page (limit 10 s), takes 5 s,
// then answers a parse or a preparation with that page's text. The parser's own time limit in
// the test (4 s) is shorter than that: only the room made for the OCR page lets it finish.
import { setTimeout } from 'node:timers';
import { parentPort, threadId } from 'node:worker_threads';

parentPort.once('message', (request) => {
  parentPort.postMessage({ kind: 'ocr-page', index: 1, total: 1, pageTimeoutMs: 10_000 });
  setTimeout(() => {
    const page = { number: 1, text: 'Read by OCR' };
    if (request.kind === 'parse') {
      parentPort.postMessage({ kind: 'parsed-document', document: { type: 'pdf', pages: [page] } });
      return;
    }
    parentPort.postMessage({ kind: 'parsed', type: 'pdf', pages: 1 });
    parentPort.postMessage({ kind: 'prepared', chunks: 0, threadId });
  }, 5_000);
});
