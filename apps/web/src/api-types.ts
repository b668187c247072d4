/** The API's public wire format, as the README's API reference describes it. */

export interface KnowledgeBase {
  id: string;
  name: string;
  createdAt: string;
}

export type DocumentStatus = 'queued' | 'processing' | 'ready' | 'failed';

export interface DocumentView {
  id: string;
  knowledgeBaseId: string;
  name: string;
  bytes: number;
  type: string | null;
  status: DocumentStatus;
  progress: { stage: string; done: number; total: number };
  pages: number | null;
  chunks: number | null;
  error?: { code: string; message: string };
  createdAt: string;
  updatedAt: string;
}

/** One file of an upload's answer. */
export interface AcceptedDocument {
  id: string;
  name: string;
  bytes: number;
  status: DocumentStatus;
  duplicate: boolean;
}

/** A passage sent with an answer, numbered as the answer cites it. */
export interface Source {
  index: number;
  documentId: string;
  documentName: string;
  page: number | null;
  chunkId: string;
  score: number;
  text: string;
}

export interface AnswerEnd {
  answer: string;
  citations: number[];
  invalidCitations: number[];
  mode: 'llm' | 'extractive';
}

export interface ChatMessage {
  role: 'user' | 'assistant';
  content: string;
}

/** `{"error":{"code","message"}}`, the body of every error response and the data of an `error` event. */
export interface ErrorBody {
  code: string;
  message: string;
}
