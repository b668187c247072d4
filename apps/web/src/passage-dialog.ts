import type { Source } from './api-types.js';
import { byId, declareLanguage, element } from './dom.js';

/**
 * The passage behind a citation, in a modal dialog: the document's name, the page, and the
 * passage's text highlighted. Escape or Close shut it and focus returns to the link that opened it.
 */
export class PassageDialog {
  private readonly dialog = byId('passage-dialog', HTMLDialogElement);
  private readonly title = byId('passage-title', HTMLHeadingElement);
  private readonly location = byId('passage-location', HTMLParagraphElement);
  private readonly text = byId('passage-text', HTMLQuoteElement);
  private opener: HTMLElement | null = null;

  constructor() {
    this.dialog.addEventListener('close', () => {
      this.opener?.focus();
      this.opener = null;
    });
    // A click on the backdrop (outside the dialog's box) closes it too.
    this.dialog.addEventListener('click', (event) => {
      if (event.target === this.dialog) this.dialog.close();
    });
  }

  open(source: Source, opener: HTMLElement): void {
    this.opener = opener;
    this.title.textContent = source.documentName;
    declareLanguage(this.title, source.documentName);
    this.location.replaceChildren(
      element('span', { class: 'passage-page' }, source.page === null ? 'No page number' : `Page ${source.page}`),
      ` · source [${source.index}]`,
    );
    const highlighted = element('mark', { class: 'passage-highlight' }, source.text);
    declareLanguage(this.text, source.text);
    this.text.replaceChildren(highlighted);
    if (!this.dialog.open) this.dialog.showModal();
  }
}
