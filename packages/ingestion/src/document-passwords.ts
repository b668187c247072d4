/**
 * Passwords of uploaded PDFs, held in this process's memory only, from the upload until the
 * document is `ready` or `failed`: never written to the catalog, the queue or a log. After a
 * restart they are gone, so a document resumed then fails `pdf_password_required` (upload it
 * again with its password); a reindex, which rereads the original, fails it the same way.
 */
export class DocumentPasswords {
  readonly #passwords = new Map<string, string>();

  set(documentId: string, password: string): void {
    this.#passwords.set(documentId, password);
  }

  get(documentId: string): string | undefined {
    return this.#passwords.get(documentId);
  }

  delete(documentId: string): void {
    this.#passwords.delete(documentId);
  }

  /** Documents with a password waiting (for tests: none stays after ingestion). */
  get size(): number {
    return this.#passwords.size;
  }
}
