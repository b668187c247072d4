import { documentStatuses, type DocumentStatus } from '@passage/spec';

/**
 * Where the catalog's keys live. Every key a script touches is named here and handed to it in
 * KEYS, so that the scripts build no key of their own. Two layouts share the scripts:
 *
 * - standalone (`<prefix>:catalog:` then `kb:<id>`, `kb:<id>:documents`, `kb:<id>:hashes`,
 *   `document:<id>`, `document:<id>:generations`, `status:<status>`, `kbs`): the layout a
 *   standalone Redis has always held, kept so that existing deployments keep their catalog;
 * - cluster: everything of one knowledge base (its hash, document list, content hashes, status
 *   sets, documents and their generations) under one hash tag, `{<prefix>:catalog:kb:<id>}`, so
 *   that each script runs in one slot; the list of knowledge bases is `{<prefix>:catalog}:kbs`,
 *   and `<prefix>:catalog:document-kb:<id>` tells which knowledge base a document belongs to (the
 *   catalog's document calls name only the document).
 */
export interface CatalogKeys {
  /** Sorted set of knowledge base ids by creation time. */
  readonly knowledgeBases: string;
  knowledgeBase(knowledgeBaseId: string): string;
  documents(knowledgeBaseId: string): string;
  hashes(knowledgeBaseId: string): string;
  document(knowledgeBaseId: string, documentId: string): string;
  generations(knowledgeBaseId: string, documentId: string): string;
  /** The status sets a document of the knowledge base moves between, in `documentStatuses` order. */
  statuses(knowledgeBaseId: string): string[];
  status(knowledgeBaseId: string, status: DocumentStatus): string;
  /**
   * The string naming a document's knowledge base, or null where document keys do not depend on
   * the knowledge base (standalone: the document's own hash says it).
   */
  documentKnowledgeBase(documentId: string): string | null;
  /** Whether each knowledge base has status sets of its own (cluster) or all share them (standalone). */
  readonly statusesPerKnowledgeBase: boolean;
}

/** The keys of a catalog under `prefix` (QUEUE_PREFIX): the cluster layout when `cluster` is set. */
export function catalogKeys(prefix: string, cluster: boolean): CatalogKeys {
  const base = `${prefix}:catalog`;
  if (!cluster) {
    const status = (_: string, value: DocumentStatus) => `${base}:status:${value}`;
    return {
      knowledgeBases: `${base}:kbs`,
      knowledgeBase: (id) => `${base}:kb:${id}`,
      documents: (id) => `${base}:kb:${id}:documents`,
      hashes: (id) => `${base}:kb:${id}:hashes`,
      document: (_, id) => `${base}:document:${id}`,
      generations: (_, id) => `${base}:document:${id}:generations`,
      statuses: (id) => documentStatuses.map((value) => status(id, value)),
      status,
      documentKnowledgeBase: () => null,
      statusesPerKnowledgeBase: false,
    };
  }
  const tag = (id: string) => `{${base}:kb:${id}}`;
  const status = (id: string, value: DocumentStatus) => `${tag(id)}:status:${value}`;
  return {
    knowledgeBases: `{${base}}:kbs`,
    knowledgeBase: tag,
    documents: (id) => `${tag(id)}:documents`,
    hashes: (id) => `${tag(id)}:hashes`,
    document: (knowledgeBaseId, id) => `${tag(knowledgeBaseId)}:document:${id}`,
    generations: (knowledgeBaseId, id) => `${tag(knowledgeBaseId)}:document:${id}:generations`,
    statuses: (id) => documentStatuses.map((value) => status(id, value)),
    status,
    documentKnowledgeBase: (id) => `${base}:document-kb:${id}`,
    statusesPerKnowledgeBase: true,
  };
}
