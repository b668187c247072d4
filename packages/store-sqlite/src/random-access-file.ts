import { open, type FileHandle } from 'node:fs/promises';
import type { RandomAccessFile } from '@passage/spec';

/** Opens `file` for reads at any position (off the event loop, as every fs promise call). */
export async function openRandomAccessFile(file: string): Promise<RandomAccessFile> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    return { size, read: (target, position) => readFully(handle, target, position, file), close: () => handle.close() };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

async function readFully(handle: FileHandle, target: Uint8Array, position: number, file: string): Promise<void> {
  for (let done = 0; done < target.byteLength;) {
    const { bytesRead } = await handle.read(target, done, target.byteLength - done, position + done);
    if (bytesRead === 0) throw new Error(`${file} ends at ${position + done} bytes, before the ${target.byteLength} bytes read from ${position}`);
    done += bytesRead;
  }
}
