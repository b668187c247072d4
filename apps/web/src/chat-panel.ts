import { askStreaming } from './answer-stream.js';
import type { ChatMessage, KnowledgeBase, Source } from './api-types.js';
import { renderAnswerText, citationLink, type CitationTarget } from './answer-text.js';
import { byId, declareLanguage, element } from './dom.js';
import { describeError } from './notice.js';
import type { PassageDialog } from './passage-dialog.js';

/** Turns of history the API takes at most (`history` holds up to 100 messages). */
const historyLimit = 100;

/** The parts of one question and its answer on the page. */
interface Turn {
  number: number;
  status: HTMLParagraphElement;
  assistant: HTMLDivElement;
  answer: HTMLDivElement;
  error: HTMLParagraphElement;
  sourcesList: HTMLOListElement;
  sourcesBox: HTMLDetailsElement;
  sourcesSummary: HTMLElement;
}

/**
 * The conversation with the chosen knowledge base: the answer streams in as its deltas arrive,
 * Stop aborts the request (closing the connection makes the server stop the model), finished
 * turns are sent back as history, and every `[n]` opens its passage. An `error` event shows as an
 * error under the answer, never as answer text.
 */
export class ChatPanel {
  private readonly conversation = byId('conversation', HTMLOListElement);
  private readonly conversationLog = byId('conversation-log', HTMLDivElement);
  private readonly form = byId('question-form', HTMLFormElement);
  private readonly question = byId('question', HTMLTextAreaElement);
  private readonly askButton = byId('ask-button', HTMLButtonElement);
  private readonly stopButton = byId('stop-button', HTMLButtonElement);
  private readonly newConversationButton = byId('new-conversation', HTMLButtonElement);
  private knowledgeBase: KnowledgeBase | null = null;
  private history: ChatMessage[] = [];
  private controller: AbortController | null = null;
  private turnCount = 0;

  constructor(private readonly passages: PassageDialog) {
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.ask();
    });
    this.question.addEventListener('keydown', (event) => {
      // isComposing: Enter also confirms a word in a Chinese or Japanese input method.
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.form.requestSubmit();
      } else if (event.key === 'Escape' && this.controller !== null) {
        event.preventDefault();
        this.stop();
      }
    });
    this.stopButton.addEventListener('click', () => this.stop());
    this.newConversationButton.addEventListener('click', () => {
      this.reset();
      this.question.focus();
    });
  }

  setKnowledgeBase(knowledgeBase: KnowledgeBase | null): void {
    if (knowledgeBase?.id === this.knowledgeBase?.id) return;
    this.knowledgeBase = knowledgeBase;
    this.reset();
  }

  private reset(): void {
    this.stop();
    this.history = [];
    this.conversation.replaceChildren();
    this.updateControls();
  }

  private stop(): void {
    this.controller?.abort(new DOMException('Stopped by the user', 'AbortError'));
  }

  private updateControls(): void {
    const streaming = this.controller !== null;
    this.question.disabled = this.knowledgeBase === null;
    this.askButton.disabled = this.knowledgeBase === null || streaming;
    // Focus leaves a button as it is disabled: give it back to the question.
    if (!streaming && document.activeElement === this.stopButton) this.question.focus();
    this.stopButton.disabled = !streaming;
    this.newConversationButton.disabled = this.knowledgeBase === null || this.conversation.childElementCount === 0;
    this.question.placeholder = this.knowledgeBase === null ? 'Choose a knowledge base first' : `Ask “${this.knowledgeBase.name}”`;
  }

  private async ask(): Promise<void> {
    const question = this.question.value.trim();
    const knowledgeBase = this.knowledgeBase;
    if (question === '' || knowledgeBase === null || this.controller !== null) return;
    this.question.value = '';
    const controller = new AbortController();
    this.controller = controller;
    const turn = this.addTurn(question);
    this.updateControls();
    const sources = new Map<number, Source>();
    const target: CitationTarget = {
      sources,
      sourceElementId: (index) => `source-${turn.number}-${index}`,
      open: (source, opener) => this.passages.open(source, opener),
    };
    let text = '';
    const history = this.history.slice(-historyLimit);
    try {
      for await (const event of askStreaming(knowledgeBase.id, question, history, controller.signal)) {
        const following = this.isScrolledToEnd();
        switch (event.type) {
          case 'sources':
            for (const source of event.sources) sources.set(source.index, source);
            this.renderSources(turn, event.sources, target);
            turn.status.textContent = event.sources.length === 0 ? 'No passage matched; answering…' : 'Answering…';
            break;
          case 'text-delta':
            text += event.delta;
            renderAnswerText(turn.answer, text, target);
            declareLanguage(turn.answer, text);
            break;
          case 'end':
            text = event.end.answer;
            renderAnswerText(turn.answer, text, target);
            declareLanguage(turn.answer, text);
            turn.status.textContent =
              event.end.mode === 'llm' ? 'Answered by the language model' : 'Answered with sentences from the passages (no language model)';
            this.history.push({ role: 'user', content: question }, { role: 'assistant', content: text });
            break;
          case 'error':
            this.showTurnError(turn, `${event.error.message} (${event.error.code})`);
            break;
        }
        if (following) this.scrollToEnd();
      }
    } catch (error) {
      if (controller.signal.aborted) turn.status.textContent = text === '' ? 'Stopped before the answer began' : 'Stopped: the answer above is incomplete';
      else this.showTurnError(turn, describeError(error));
    } finally {
      turn.assistant.setAttribute('aria-busy', 'false');
      turn.assistant.dataset['state'] = controller.signal.aborted ? 'stopped' : turn.error.hidden ? 'done' : 'failed';
      this.controller = null;
      this.updateControls();
    }
  }

  private showTurnError(turn: Turn, message: string): void {
    turn.status.textContent = 'The answer failed';
    turn.error.textContent = message;
    turn.error.hidden = false;
  }

  private addTurn(question: string): Turn {
    this.turnCount += 1;
    const number = this.turnCount;
    const questionText = element('p', { class: 'question-text' }, question);
    declareLanguage(questionText, question);
    const status = element('p', { class: 'turn-status' }, 'Searching the documents…');
    const answer = element('div', { class: 'answer-text' });
    const error = element('p', { class: 'turn-error', role: 'alert', hidden: true });
    const sourcesSummary = element('summary', {}, 'Sources');
    const sourcesList = element('ol', { class: 'source-list' });
    const sourcesBox = element('details', { class: 'sources', hidden: true }, sourcesSummary, sourcesList);
    const assistant = element('div', { class: 'message assistant', 'aria-busy': 'true', 'data-state': 'streaming' }, status, answer, error, sourcesBox);
    const item = element(
      'li',
      { class: 'turn' },
      element('div', { class: 'message user' }, element('span', { class: 'visually-hidden' }, 'You asked: '), questionText),
      assistant,
    );
    this.conversation.append(item);
    this.scrollToEnd();
    return { number, status, assistant, answer, error, sourcesList, sourcesBox, sourcesSummary };
  }

  private renderSources(turn: Turn, sources: Source[], target: CitationTarget): void {
    turn.sourcesSummary.textContent = `Sources (${sources.length})`;
    turn.sourcesList.replaceChildren(
      ...sources.map((source) => {
        const name = element('span', { class: 'source-name' }, source.documentName);
        declareLanguage(name, source.documentName);
        const excerpt = element('span', { class: 'source-excerpt' }, source.text.length > 160 ? `${source.text.slice(0, 160)}…` : source.text);
        declareLanguage(excerpt, source.text);
        return element(
          'li',
          { id: target.sourceElementId(source.index), value: source.index },
          citationLink(source, target),
          ' ',
          name,
          source.page === null ? '' : `, page ${source.page}`,
          element('br'),
          excerpt,
        );
      }),
    );
    turn.sourcesBox.hidden = sources.length === 0;
  }

  private isScrolledToEnd(): boolean {
    // Someone who scrolled up to read keeps their place; otherwise the newest text stays in view.
    const box = this.conversationLog;
    return box.scrollHeight - box.scrollTop - box.clientHeight < 48;
  }

  private scrollToEnd(): void {
    this.conversationLog.scrollTop = this.conversationLog.scrollHeight;
  }
}
