import { createHash, randomUUID } from 'node:crypto';

/** Random ids for knowledge bases and documents: a prefix says what the id names. */
export function newKnowledgeBaseId(): string {
  return `kb_${randomUUID().replaceAll('-', '').slice(0, 20)}`;
}

export function newDocumentId(): string {
  return `doc_${randomUUID().replaceAll('-', '').slice(0, 20)}`;
}

const chunkNamespace = '6f1c8a52-3c3e-4f0e-9a57-0c5b1c3f2d10';

/**
 * Deterministic chunk id, a UUIDv5 (RFC 9562) of document, generation and ordinal: a retried
 * ingestion overwrites its chunks instead of adding copies, and the id is a valid Qdrant point id.
 */
export function chunkId(documentId: string, generation: number, ordinal: number): string {
  return uuidV5(`${documentId}/${generation}/${ordinal}`, chunkNamespace);
}

function uuidV5(name: string, namespace: string): string {
  const namespaceBytes = Buffer.from(namespace.replaceAll('-', ''), 'hex');
  const hash = createHash('sha1').update(namespaceBytes).update(name, 'utf8').digest();
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50;
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
