/**
 * The document formats of issue 13 through the HTTP API: every file of the shared office corpus
 * ends ready and a search for each of its phrases finds it (a slide or sheet cited by its page
 * and named in the passage), encrypted PDFs open with the password sent beside the file and fail
 * with the right code without it (the password is nowhere on disk afterwards), and scans come out
 * ready through OCR, searchable.
 */
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createKnowledgeBase,
  docxZipBomb,
  expectJson,
  sharedPath,
  startApiProcess,
  waitUntilEnded,
  type ApiProcess,
  type DocumentView,
} from '@passage/testing';

interface DocsManifestEntry {
  file: string;
  format: string;
  contains: string[];
}
interface PdfManifestEntry {
  file: string;
  category: string;
  expect: { user_password?: string; owner_password?: string; wrong_password?: string; text_contains?: string };
}
interface SearchHit {
  documentId: string;
  page: number;
  text: string;
}

async function uploadOne(api: ApiProcess, knowledgeBaseId: string, name: string, bytes: Uint8Array, passwords: string[] = []): Promise<Response> {
  const form = new FormData();
  form.append('files', new Blob([bytes]), name);
  for (const password of passwords) form.append('password', password);
  return fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/documents`, { method: 'POST', body: form });
}

async function ingest(api: ApiProcess, knowledgeBaseId: string, name: string, bytes: Uint8Array, password?: string): Promise<DocumentView> {
  const accepted = await expectJson<{ data: Array<{ id: string }> }>(
    await uploadOne(api, knowledgeBaseId, name, bytes, password === undefined ? [] : [password]),
    202,
  );
  return waitUntilEnded(api, knowledgeBaseId, accepted.data[0]!.id, 900_000);
}

async function search(api: ApiProcess, knowledgeBaseId: string, query: string): Promise<SearchHit[]> {
  const response = await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/search`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, topK: 10 }),
  });
  return (await expectJson<{ data: SearchHit[] }>(response, 200)).data;
}

function collapse(text: string): string {
  return text.normalize('NFC').replace(/\s+/gu, ' ').trim();
}

/** Every file under a folder, recursively. */
async function filesUnder(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
}

describe('Word, PowerPoint, Excel, CSV, e-mail, encrypted and scanned PDFs through the API', () => {
  let api: ApiProcess;
  before(async () => {
    // Scans are read page by page; on a loaded machine the eight-page Chinese one takes minutes.
    api = await startApiProcess({ env: { PARSE_TIMEOUT_MS: '1800000', OCR_PAGE_TIMEOUT_MS: '600000', OCR_ENABLED: 'true', OCR_LANGUAGES: 'eng+chi_sim' } });
  });
  after(async () => {
    await api.stop();
  });

  it('ends every document of the shared office corpus ready, each phrase found by a search, slides and sheets named', async () => {
    const manifest = JSON.parse(await readFile(sharedPath('docs', 'manifest.json'), 'utf8')) as DocsManifestEntry[];
    const knowledgeBaseId = await createKnowledgeBase(api, 'Office documents');
    for (const entry of manifest) {
      const document = await ingest(api, knowledgeBaseId, path.basename(entry.file), await readFile(sharedPath('docs', entry.file)));
      assert.equal(document.status, 'ready', `${entry.file}: ${JSON.stringify(document.error)}`);
      for (const phrase of entry.contains) {
        const hits = await search(api, knowledgeBaseId, phrase);
        const hit = hits.find((candidate) => candidate.documentId === document.id && collapse(candidate.text).includes(collapse(phrase)));
        assert.ok(hit, `${entry.file}: no search hit holds ${JSON.stringify(phrase)}`);
        // A slide is cited by its number as the page, and its passage names it (the shared slides are one passage each).
        if (entry.format === 'pptx') assert.ok(hit.text.startsWith(`Slide ${hit.page}\n`), `${entry.file}: page ${hit.page}: ${hit.text.slice(0, 40)}`);
      }
    }
    const slide = (await search(api, knowledgeBaseId, 'Second slide title')).find((hit) => hit.text.includes('Second slide title'));
    assert.equal(slide?.page, 2);
    assert.match(slide.text, /^Slide 2\n/);
    const sheet = (await search(api, knowledgeBaseId, 'Number of freshwater ducks per year')).find((hit) => hit.text.includes('freshwater ducks'));
    assert.ok(sheet, 'sheet hit');
    assert.equal(sheet.page, 1);
    assert.match(sheet.text, /^Sheet: \S/);
  });

  it('opens encrypted PDFs with the password sent beside the file, and fails with the right code without it or with a wrong one', async () => {
    const manifest = JSON.parse(await readFile(sharedPath('pdfs', 'manifest.json'), 'utf8')) as PdfManifestEntry[];
    const encrypted = manifest.filter((entry) => entry.category === 'encrypted');
    assert.ok(encrypted.length >= 5);
    for (const entry of encrypted) {
      const bytes = await readFile(sharedPath('pdfs', entry.file));
      const name = path.basename(entry.file);
      const password = entry.expect.user_password ?? '';
      // Each upload lands in a knowledge base of its own: the same bytes twice would be a duplicate.
      const without = await ingest(api, await createKnowledgeBase(api, `${name} without`), name, bytes);
      if (password === '') {
        assert.equal(without.status, 'ready', `${name}: an empty user password opens without one`);
        continue;
      }
      assert.equal(without.error?.code, 'pdf_password_required', name);
      const wrong = await ingest(api, await createKnowledgeBase(api, `${name} wrong`), name, bytes, entry.expect.wrong_password ?? 'not-the-password');
      assert.equal(wrong.error?.code, 'pdf_password_wrong', name);
      const knowledgeBaseId = await createKnowledgeBase(api, `${name} with`);
      const opened = await ingest(api, knowledgeBaseId, name, bytes, password);
      // pr6531_1 opens, and its one page is a picture without text: OCR finds none.
      if (entry.file.endsWith('pr6531_1.pdf')) assert.equal(opened.error?.code, 'pdf_no_text_layer', name);
      else assert.equal(opened.status, 'ready', `${name}: ${JSON.stringify(opened.error)}`);
      if (entry.expect.text_contains !== undefined) {
        const hits = await search(api, knowledgeBaseId, entry.expect.text_contains);
        assert.ok(
          hits.some((hit) => hit.text.includes(entry.expect.text_contains!)),
          name,
        );
      }
    }
    // The passwords were never written: not in the database, the originals' folder or anything else.
    const secrets = ['baz', 'asdfasdf', 'æøå', 'not-the-password', 'qwerty'].map((password) => Buffer.from(password, 'utf8'));
    for (const file of await filesUnder(api.dataDirectory)) {
      const content = await readFile(file);
      for (const secret of secrets.filter((candidate) => candidate.length > 3))
        assert.equal(content.indexOf(secret), -1, `${secret.toString()} found in ${file}`);
    }
  });

  it('fails zip bombs disguised as .docx fast with a clear code while /healthz keeps answering', async () => {
    const knowledgeBaseId = await createKnowledgeBase(api, 'Bombs');
    let probing = true;
    let answered = 0;
    const failures: string[] = [];
    const prober = (async () => {
      while (probing) {
        const response = await fetch(`${api.url}/healthz`, { signal: AbortSignal.timeout(5000) }).catch((error: unknown) => String(error));
        if (typeof response === 'string' || response.status !== 200) failures.push(typeof response === 'string' ? response : `HTTP ${response.status}`);
        else answered += 1;
        if (typeof response !== 'string') await response.arrayBuffer();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    try {
      // 300 MiB of zeros from about 300 KB: once declared (refused before inflating), once under a 4 KiB claim.
      const declared = await ingest(api, knowledgeBaseId, 'declared.docx', docxZipBomb(300, 300 * 1024 * 1024));
      assert.equal(declared.error?.code, 'parse_resource_limit', JSON.stringify(declared.error));
      assert.match(declared.error.message, /over the limit/);
      const lying = await ingest(api, knowledgeBaseId, 'lying.docx', docxZipBomb(300, 4096));
      assert.equal(lying.error?.code, 'document_corrupt', JSON.stringify(lying.error));
    } finally {
      probing = false;
      await prober;
    }
    assert.deepEqual(failures, []);
    assert.ok(answered > 0, 'health was checked while the bombs were parsed');
  });

  it('refuses more passwords than files', async () => {
    const knowledgeBaseId = await createKnowledgeBase(api, 'Passwords');
    const response = await uploadOne(api, knowledgeBaseId, 'a.txt', new TextEncoder().encode('hello'), ['one', 'two']);
    const body = await expectJson<{ error: { code: string; message: string } }>(response, 400);
    assert.equal(body.error.code, 'invalid_request');
    assert.match(body.error.message, /"password" is given 2 times for 1 files/);
  });

  it('reads the English and Chinese scans with OCR: ready, and a search finds words of their pages', async () => {
    const knowledgeBaseId = await createKnowledgeBase(api, 'Scans');
    const scans = [
      { file: 'scanned/scan_en_docling_ocr_test.pdf', pages: 1, words: ['Docling bundles PDF document conversion'] },
      { file: 'scanned/scan_zh_mineru_small_ocr_8p.pdf', pages: 8, words: ['交换价值', '使用价值'] },
    ];
    for (const scan of scans) {
      const document = await ingest(api, knowledgeBaseId, path.basename(scan.file), await readFile(sharedPath('pdfs', scan.file)));
      assert.equal(document.status, 'ready', `${scan.file}: ${JSON.stringify(document.error)}`);
      assert.equal(document.pages, scan.pages);
      for (const word of scan.words) {
        const hits = await search(api, knowledgeBaseId, word);
        assert.ok(
          hits.some((hit) => hit.documentId === document.id && collapse(hit.text).includes(word)),
          `${scan.file}: no hit holds ${word}`,
        );
      }
    }
  });
});
