/**
 * Where a knowledge base lives in Qdrant: one collection per knowledge base and index generation,
 * `${prefix}_${knowledgeBaseId}_g${generation}`, reached for searches through the alias
 * `${prefix}_${knowledgeBaseId}`. A reindex fills the next generation's collection and then moves
 * the alias in one atomic alias operation.
 */
export class CollectionNames {
  readonly #prefix: string;

  constructor(prefix: string) {
    if (!/^[A-Za-z0-9_-]+$/.test(prefix)) throw new RangeError(`Invalid collection prefix "${prefix}": letters, digits, _ and - only`);
    this.#prefix = prefix;
  }

  /** The alias that searches of the knowledge base read. */
  alias(knowledgeBaseId: string): string {
    return `${this.#prefix}_${checked(knowledgeBaseId)}`;
  }

  collection(knowledgeBaseId: string, generation: number): string {
    if (!Number.isSafeInteger(generation) || generation < 0) throw new RangeError(`Invalid generation ${generation}`);
    return `${this.alias(knowledgeBaseId)}_g${generation}`;
  }

  /** Whether `name` is a generation collection of the knowledge base. */
  isCollectionOf(name: string, knowledgeBaseId: string): boolean {
    const stem = `${this.alias(knowledgeBaseId)}_g`;
    return name.startsWith(stem) && /^\d+$/.test(name.slice(stem.length));
  }
}

function checked(knowledgeBaseId: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(knowledgeBaseId)) throw new RangeError(`Invalid knowledge base id for Qdrant: "${knowledgeBaseId}"`);
  return knowledgeBaseId;
}
