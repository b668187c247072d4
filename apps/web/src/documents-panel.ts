import { ApiError, requestJson, uploadFile } from './api-client.js';
import type { DocumentView, KnowledgeBase } from './api-types.js';
import { confirmDeletion } from './confirm-dialog.js';
import { byId, declareLanguage, element } from './dom.js';
import { failureReason, formatBytes, statusLine } from './document-status.js';
import { clearError, describeError, showError } from './notice.js';

/** How often documents are asked for while one is queued or processing, ms. */
const pollIntervalMs = 700;
/** Files sent at the same time; each file is its own request, so each has its own progress. */
const parallelUploads = 2;

/** A file on its way up, before the server has answered for it. */
interface Upload {
  key: string;
  file: File;
  fraction: number;
  state: 'waiting' | 'uploading' | 'failed' | 'duplicate';
  message?: string;
}

/** A row of the list, kept across refreshes so that focus and screen readers are not disturbed. */
interface Row {
  item: HTMLLIElement;
  name: HTMLSpanElement;
  status: HTMLSpanElement;
  progress: HTMLProgressElement;
  reason: HTMLParagraphElement;
  action: HTMLButtonElement;
}

/**
 * Uploads (file picker or drag and drop, many files at once) and the documents of the chosen
 * knowledge base, each with its status and progress until `ready` or `failed` with the reason.
 */
export class DocumentsPanel {
  private readonly hint = byId('documents-hint', HTMLParagraphElement);
  private readonly dropZone = byId('drop-zone', HTMLDivElement);
  private readonly fileInput = byId('file-input', HTMLInputElement);
  private readonly list = byId('document-list', HTMLUListElement);
  private readonly announcer = byId('document-announcer', HTMLParagraphElement);
  private knowledgeBase: KnowledgeBase | null = null;
  private documents: DocumentView[] = [];
  private uploads: Upload[] = [];
  private readonly rows = new Map<string, Row>();
  private readonly lastStatus = new Map<string, string>();
  private pollTimer: ReturnType<typeof setTimeout> | undefined;
  private uploadController = new AbortController();
  private uploadCounter = 0;
  /** Uploads running for the current knowledge base, at most `parallelUploads`. */
  private uploaders = 0;
  /** Bumped when the knowledge base changes, so answers for the previous one are dropped. */
  private epoch = 0;

  constructor() {
    this.fileInput.addEventListener('change', () => {
      this.addFiles([...(this.fileInput.files ?? [])]);
      this.fileInput.value = '';
    });
    this.dropZone.addEventListener('dragover', (event) => {
      event.preventDefault();
      this.dropZone.classList.add('dragging');
    });
    this.dropZone.addEventListener('dragleave', () => this.dropZone.classList.remove('dragging'));
    this.dropZone.addEventListener('drop', (event) => {
      event.preventDefault();
      this.dropZone.classList.remove('dragging');
      this.addFiles([...(event.dataTransfer?.files ?? [])]);
    });
  }

  setKnowledgeBase(knowledgeBase: KnowledgeBase | null): void {
    this.epoch += 1;
    this.uploadController.abort();
    this.uploadController = new AbortController();
    this.uploaders = 0;
    clearTimeout(this.pollTimer);
    this.knowledgeBase = knowledgeBase;
    this.documents = [];
    this.uploads = [];
    this.rows.clear();
    this.lastStatus.clear();
    this.list.replaceChildren();
    this.dropZone.hidden = knowledgeBase === null;
    this.hint.hidden = knowledgeBase !== null;
    if (knowledgeBase !== null) void this.refresh();
  }

  private addFiles(files: File[]): void {
    if (this.knowledgeBase === null || files.length === 0) return;
    for (const file of files) {
      this.uploadCounter += 1;
      this.uploads.push({ key: `upload-${this.uploadCounter}`, file, fraction: 0, state: 'waiting' });
    }
    this.render();
    while (this.uploaders < parallelUploads) {
      this.uploaders += 1;
      const epoch = this.epoch;
      void this.uploadNext(this.knowledgeBase.id, epoch).finally(() => {
        if (epoch === this.epoch) this.uploaders -= 1;
      });
    }
  }

  private async uploadNext(knowledgeBaseId: string, epoch: number): Promise<void> {
    for (;;) {
      const upload = this.uploads.find((candidate) => candidate.state === 'waiting');
      if (upload === undefined || epoch !== this.epoch) return;
      upload.state = 'uploading';
      this.render();
      try {
        const accepted = await uploadFile(
          knowledgeBaseId,
          upload.file,
          (fraction) => {
            upload.fraction = fraction;
            this.renderUpload(upload);
          },
          this.uploadController.signal,
        );
        if (epoch !== this.epoch) return;
        if (accepted.duplicate) {
          upload.state = 'duplicate';
          upload.message = 'Already in this knowledge base (a document with the same content): not stored again.';
        } else {
          this.uploads = this.uploads.filter((candidate) => candidate !== upload);
        }
        await this.refresh();
      } catch (error) {
        if (epoch !== this.epoch) return;
        upload.state = 'failed';
        upload.message = describeError(error);
        this.announce(`${upload.file.name}: upload failed. ${upload.message}`);
        if (error instanceof ApiError && error.status === 401) showError(error);
        this.render();
      }
    }
  }

  private async refresh(): Promise<void> {
    const knowledgeBase = this.knowledgeBase;
    if (knowledgeBase === null) return;
    const epoch = this.epoch;
    clearTimeout(this.pollTimer);
    try {
      const { data } = await requestJson<{ data: DocumentView[] }>('GET', `v1/knowledge-bases/${encodeURIComponent(knowledgeBase.id)}/documents`);
      if (epoch !== this.epoch) return;
      this.documents = data;
    } catch (error) {
      if (epoch !== this.epoch) return;
      showError(error);
    }
    this.render();
    const working = this.documents.some((document) => document.status === 'queued' || document.status === 'processing');
    // Two refreshes may be in flight (two uploads ended together): the later one's timer replaces the other's.
    clearTimeout(this.pollTimer);
    if (working) this.pollTimer = setTimeout(() => void this.refresh(), pollIntervalMs);
  }

  private async remove(document: DocumentView): Promise<void> {
    if (!(await confirmDeletion(`Delete the document “${document.name}”? Answers will no longer cite it.`, 'Delete document'))) return;
    try {
      await requestJson<undefined>('DELETE', `v1/knowledge-bases/${encodeURIComponent(document.knowledgeBaseId)}/documents/${encodeURIComponent(document.id)}`);
      clearError();
    } catch (error) {
      showError(error);
    }
    await this.refresh();
    this.fileInput.focus();
  }

  private announce(text: string): void {
    this.announcer.textContent = text;
  }

  private render(): void {
    const wanted: HTMLLIElement[] = [];
    for (const upload of this.uploads) wanted.push(this.renderUpload(upload).item);
    for (const document of this.documents) wanted.push(this.renderDocument(document).item);
    const keys = new Set([...this.uploads.map((upload) => upload.key), ...this.documents.map((document) => document.id)]);
    for (const [key, row] of this.rows) {
      if (!keys.has(key)) {
        row.item.remove();
        this.rows.delete(key);
      }
    }
    // Moving a node takes focus off it: only reorder when the order changed.
    const current = [...this.list.children];
    if (current.length !== wanted.length || current.some((child, position) => child !== wanted[position])) this.list.replaceChildren(...wanted);
  }

  private row(key: string, name: string, onAction: () => void): Row {
    let row = this.rows.get(key);
    if (row === undefined) {
      const nameElement = element('span', { class: 'document-name' }, name);
      declareLanguage(nameElement, name);
      const status = element('span', { class: 'document-status' });
      const progress = element('progress', { class: 'document-progress', max: 1, 'aria-label': `Progress of ${name}` });
      const reason = element('p', { class: 'document-reason' });
      const action = element('button', { type: 'button', class: 'icon-button danger' }, '✕');
      action.addEventListener('click', onAction);
      const item = element(
        'li',
        { class: 'document', 'data-key': key },
        element('div', { class: 'document-line' }, nameElement, action),
        status,
        progress,
        reason,
      );
      row = { item, name: nameElement, status, progress, reason, action };
      this.rows.set(key, row);
    }
    return row;
  }

  private renderUpload(upload: Upload): Row {
    const row = this.row(upload.key, upload.file.name, () => {
      this.uploads = this.uploads.filter((candidate) => candidate !== upload);
      this.render();
      this.fileInput.focus();
    });
    row.item.dataset['status'] = upload.state;
    const percent = Math.round(upload.fraction * 100);
    row.status.textContent =
      upload.state === 'waiting'
        ? `Waiting to upload (${formatBytes(upload.file.size)})`
        : upload.state === 'uploading'
          ? `Uploading: ${percent}% of ${formatBytes(upload.file.size)}`
          : upload.state === 'duplicate'
            ? 'Duplicate'
            : 'Upload failed';
    row.progress.hidden = upload.state !== 'uploading' && upload.state !== 'waiting';
    row.progress.value = upload.fraction;
    row.reason.textContent = upload.message ?? '';
    row.reason.hidden = upload.message === undefined;
    row.action.setAttribute('aria-label', `Dismiss ${upload.file.name}`);
    // An upload in flight is cancelled only by leaving the knowledge base; its row has nothing to dismiss yet.
    row.action.hidden = upload.state === 'uploading' || upload.state === 'waiting';
    return row;
  }

  private renderDocument(document: DocumentView): Row {
    const row = this.row(document.id, document.name, () => void this.remove(document));
    row.item.dataset['status'] = document.status;
    row.status.textContent = statusLine(document);
    const working = document.status === 'queued' || document.status === 'processing';
    row.progress.hidden = !working;
    if (working) {
      if (document.progress.total > 0) row.progress.value = document.progress.done / document.progress.total;
      else row.progress.removeAttribute('value');
    }
    const reason = document.error === undefined ? '' : failureReason(document.error);
    row.reason.textContent = reason;
    row.reason.hidden = reason === '';
    row.action.setAttribute('aria-label', `Delete document ${document.name}`);
    const previous = this.lastStatus.get(document.id);
    if (previous !== undefined && previous !== document.status && (document.status === 'ready' || document.status === 'failed')) {
      this.announce(document.status === 'ready' ? `${document.name} is ready.` : `${document.name} failed: ${reason}`);
    }
    this.lastStatus.set(document.id, document.status);
    return row;
  }
}
