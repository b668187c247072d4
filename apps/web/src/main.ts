import './styles.css';
import { requestJson } from './api-client.js';
import { storeApiKey, storedApiKey } from './api-key.js';
import { ChatPanel } from './chat-panel.js';
import { byId } from './dom.js';
import { DocumentsPanel } from './documents-panel.js';
import { KnowledgeBasesPanel } from './knowledge-bases-panel.js';
import { showError } from './notice.js';
import { PassageDialog } from './passage-dialog.js';

const chat = new ChatPanel(new PassageDialog());
const documents = new DocumentsPanel();
const knowledgeBases = new KnowledgeBasesPanel((knowledgeBase) => {
  documents.setKnowledgeBase(knowledgeBase);
  chat.setKnowledgeBase(knowledgeBase);
});

const apiKeyForm = byId('api-key-form', HTMLFormElement);
const apiKeyInput = byId('api-key', HTMLInputElement);
const apiKeyState = byId('api-key-state', HTMLParagraphElement);

function showApiKeyState(): void {
  apiKeyState.textContent = storedApiKey() === null ? 'No key saved: requests go without one.' : 'A key is saved in this browser.';
}

apiKeyForm.addEventListener('submit', (event) => {
  event.preventDefault();
  storeApiKey(apiKeyInput.value);
  apiKeyInput.value = '';
  showApiKeyState();
  void knowledgeBases.refresh();
});
byId('api-key-forget', HTMLButtonElement).addEventListener('click', () => {
  storeApiKey(null);
  apiKeyInput.value = '';
  showApiKeyState();
});
showApiKeyState();

async function showServerMode(): Promise<void> {
  const mode = byId('server-mode', HTMLParagraphElement);
  try {
    const health = await requestJson<{ status: string; mode: 'llm' | 'extractive' }>('GET', 'healthz');
    mode.textContent = health.mode === 'llm' ? 'Answers by a language model' : 'Extractive answers (no language model)';
  } catch (error) {
    showError(error);
  }
}

void showServerMode();
void knowledgeBases.refresh();
