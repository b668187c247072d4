import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * The nice value of threads that do background work (parsing and chunking a document, OCR, building
 * an index segment or graph): 10, so that on a busy machine the scheduler gives the event loop's
 * thread, which answers requests and streams, the CPU first. The work still gets every core
 * nobody else wants.
 */
export const backgroundThreadNice = 10;

/**
 * Lowers the calling thread's scheduling priority to `nice` (default {@link backgroundThreadNice}).
 * Linux keeps a nice value per thread (and hands it to the processes a thread starts, such as OCR's
 * tools), so this touches no other thread of the process. Returns whether it took effect: elsewhere,
 * or where the kernel refuses, the thread keeps the process's priority, which costs responsiveness
 * but nothing else.
 */
export function lowerThisThreadsPriority(nice = backgroundThreadNice): boolean {
  if (process.platform !== 'linux') return false;
  // /proc/thread-self names the calling thread: "<pid>/task/<thread id>".
  const threadId = Number(readlinkSync('/proc/thread-self').split('/').at(-1));
  if (!Number.isInteger(threadId) || threadId <= 0) return false;
  try {
    setPriority(threadId, nice);
    return true;
  } catch (error) {
    // EACCES/EPERM: a sandbox that forbids changing priorities. Nothing else can go wrong here.
    if (error instanceof Error && 'code' in error && ['EACCES', 'EPERM', 'ERR_SYSTEM_ERROR'].includes(String(error.code))) return false;
    throw error;
  }
}
