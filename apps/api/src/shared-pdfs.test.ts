import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { documentErrorCodes } from '@passage/spec';
import { createKnowledgeBase, expectJson, sharedPath, startApiProcess, upload, waitUntilEnded } from '@passage/testing';

interface ManifestEntry {
  file: string;
  category: string;
  expect: { pages?: number; must_fail?: boolean; text_layer?: boolean; user_password?: string };
}

const knownDocumentErrors = new Set<string>(documentErrorCodes);

describe('every shared PDF through the API', () => {
  it('ends each one ready or failed with a clear code while /healthz keeps answering', async () => {
    // OCR off: this checks the text layers and the failures (document-formats.test.ts reads the scans).
    const api = await startApiProcess({ env: { INGEST_CONCURRENCY: '2', OCR_ENABLED: 'false' } });
    let probing = true;
    const healthFailures: string[] = [];
    let healthChecks = 0;
    const prober = (async () => {
      while (probing) {
        try {
          const response = await fetch(`${api.url}/healthz`, { signal: AbortSignal.timeout(5000) });
          if (response.status !== 200) healthFailures.push(`HTTP ${response.status}`);
          await response.arrayBuffer();
        } catch (error) {
          healthFailures.push(String(error));
        }
        healthChecks += 1;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })();
    try {
      const manifest = JSON.parse(await readFile(sharedPath('pdfs', 'manifest.json'), 'utf8')) as ManifestEntry[];
      const knowledgeBaseId = await createKnowledgeBase(api, 'Hostile PDFs');
      const byId = new Map<string, ManifestEntry>();
      for (let offset = 0; offset < manifest.length; offset += 8) {
        const batch = manifest.slice(offset, offset + 8);
        const files = await Promise.all(
          batch.map(async (entry) => ({ name: entry.file, bytes: new Uint8Array(await readFile(sharedPath('pdfs', entry.file))) })),
        );
        const accepted = await expectJson<{ data: Array<{ id: string; name: string }> }>(await upload(api, knowledgeBaseId, files), 202);
        accepted.data.forEach((document, position) => byId.set(document.id, batch[position]!));
      }
      assert.equal(byId.size, manifest.length);

      for (const [id, entry] of byId) {
        const document = await waitUntilEnded(api, knowledgeBaseId, id, 180_000);
        const label = `${entry.file}: ${JSON.stringify(document.error ?? document.status)}`;
        if (document.status === 'failed') {
          assert.ok(document.error && knownDocumentErrors.has(document.error.code), label);
          assert.ok(document.error.message.length > 10, label);
        } else {
          assert.equal(document.status, 'ready', label);
          assert.ok((document.chunks ?? 0) > 0, label);
          if (entry.expect.pages !== undefined && entry.category !== 'corrupt') assert.equal(document.pages, entry.expect.pages, label);
        }
        if (entry.expect.must_fail) assert.equal(document.error?.code, 'pdf_corrupt', label);
        if (entry.expect.text_layer === false) assert.equal(document.error?.code, 'pdf_no_text_layer', label);
        if (entry.category === 'encrypted' && entry.expect.user_password) assert.equal(document.error?.code, 'pdf_password_required', label);
        if (entry.category === 'normal_text' || entry.category === 'huge_pages') assert.equal(document.status, 'ready', label);
      }
    } finally {
      probing = false;
      await prober;
      await api.stop();
    }
    assert.deepEqual(healthFailures, []);
    assert.ok(healthChecks > 10, `only ${healthChecks} health checks ran`);
  });
});
