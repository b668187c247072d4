import { requestJson } from './api-client.js';
import type { KnowledgeBase } from './api-types.js';
import { confirmDeletion } from './confirm-dialog.js';
import { byId, declareLanguage, element } from './dom.js';
import { clearError, showError } from './notice.js';

/** Lists, creates and deletes knowledge bases, and says which one is chosen. */
export class KnowledgeBasesPanel {
  private readonly list = byId('knowledge-base-list', HTMLUListElement);
  private readonly empty = byId('knowledge-base-empty', HTMLParagraphElement);
  private readonly form = byId('create-knowledge-base-form', HTMLFormElement);
  private readonly nameInput = byId('knowledge-base-name', HTMLInputElement);
  private knowledgeBases: KnowledgeBase[] = [];
  private selectedId: string | null = null;

  constructor(private readonly onSelect: (knowledgeBase: KnowledgeBase | null) => void) {
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.create(this.nameInput.value.trim());
    });
  }

  async refresh(): Promise<void> {
    try {
      const { data } = await requestJson<{ data: KnowledgeBase[] }>('GET', 'v1/knowledge-bases');
      this.knowledgeBases = data;
      clearError();
    } catch (error) {
      showError(error);
      return;
    }
    if (this.selectedId !== null && !this.knowledgeBases.some((knowledgeBase) => knowledgeBase.id === this.selectedId)) this.select(null);
    const remembered = sessionStorage.getItem('passage.knowledgeBase');
    if (this.selectedId === null && remembered !== null && this.knowledgeBases.some((knowledgeBase) => knowledgeBase.id === remembered))
      this.select(remembered);
    this.render();
  }

  private async create(name: string): Promise<void> {
    if (name === '') return;
    try {
      const created = await requestJson<KnowledgeBase>('POST', 'v1/knowledge-bases', { name });
      this.nameInput.value = '';
      this.knowledgeBases.push(created);
      clearError();
      this.select(created.id);
      this.render();
    } catch (error) {
      showError(error);
    }
  }

  private async remove(knowledgeBase: KnowledgeBase): Promise<void> {
    const confirmed = await confirmDeletion(
      `Delete the knowledge base “${knowledgeBase.name}” with all its documents? This cannot be undone.`,
      'Delete knowledge base',
    );
    if (!confirmed) return;
    try {
      await requestJson<undefined>('DELETE', `v1/knowledge-bases/${encodeURIComponent(knowledgeBase.id)}`);
      clearError();
    } catch (error) {
      showError(error);
    }
    await this.refresh();
    if (this.selectedId === null) this.nameInput.focus();
  }

  private select(id: string | null): void {
    if (id === this.selectedId) return;
    this.selectedId = id;
    if (id === null) sessionStorage.removeItem('passage.knowledgeBase');
    else sessionStorage.setItem('passage.knowledgeBase', id);
    this.onSelect(this.knowledgeBases.find((knowledgeBase) => knowledgeBase.id === id) ?? null);
  }

  private render(): void {
    this.empty.hidden = this.knowledgeBases.length > 0;
    this.list.replaceChildren(
      ...this.knowledgeBases.map((knowledgeBase) => {
        const selected = knowledgeBase.id === this.selectedId;
        const name = element('span', { class: 'knowledge-base-name' }, knowledgeBase.name);
        declareLanguage(name, knowledgeBase.name);
        const choose = element('button', { type: 'button', class: 'knowledge-base-choose', 'aria-pressed': String(selected) }, name);
        choose.addEventListener('click', () => {
          this.select(knowledgeBase.id);
          this.render();
        });
        const remove = element('button', { type: 'button', class: 'icon-button danger', 'aria-label': `Delete knowledge base ${knowledgeBase.name}` }, '✕');
        remove.addEventListener('click', () => void this.remove(knowledgeBase));
        return element('li', { class: selected ? 'selected' : undefined }, choose, remove);
      }),
    );
  }
}
