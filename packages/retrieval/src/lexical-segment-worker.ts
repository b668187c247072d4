/**
 * The thread that builds a lexical segment (see lexical-segment-thread.ts): it takes pages of rows,
 * acknowledges each once added, and answers `finish` with the segment's bytes, transferred.
 */
import { parentPort } from 'node:worker_threads';
import { lowerThisThreadsPriority } from '@passage/spec';
import { LexicalSegmentBuilder } from './lexical-segment-builder.js';
import type { SegmentThreadReply, SegmentThreadRequest } from './lexical-segment-thread.js';

const port = parentPort;
if (port === null) throw new Error('lexical-segment-worker runs as a worker thread');
lowerThisThreadsPriority();
const builder = new LexicalSegmentBuilder();
const reply = (message: SegmentThreadReply, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

port.on('message', (message: SegmentThreadRequest) => {
  try {
    if (message.kind === 'rows') {
      for (const row of message.rows) builder.add(row);
      for (let count = 0; count < message.vectors; count += 1) builder.countVector();
      reply({ kind: 'added' });
    } else {
      const bytes = builder.finish(message.sequence);
      reply({ kind: 'done', bytes }, [bytes.buffer as ArrayBuffer]);
    }
  } catch (error) {
    reply({ kind: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  }
});
