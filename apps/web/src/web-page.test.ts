import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { build } from 'vite';
import {
  repositoryRoot,
  sharedPath,
  startApiProcess,
  startStubOpenAiServer,
  stubModelEnvironment,
  waitFor,
  type ApiProcess,
  type StubBehaviour,
  type StubOpenAiServer,
} from '@passage/testing';

// The page in a real browser against the real API (its own process) and a stub model that sends
// each token only when the test lets it, so the test sees the answer grow one token at a time.
// Debian's Chromium, driven by playwright-core (which downloads no browser); .ci/run installs it.

const chromiumPath = '/usr/bin/chromium';
const chromiumFlags = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const webDirectory = path.join(repositoryRoot, 'apps/web');
/** Screenshots of each step; git ignores the folder. */
const outputDirectory = path.join(webDirectory, 'test-output');
const require = createRequire(import.meta.url);

interface SearchHit {
  documentName: string;
  page: number | null;
  text: string;
}

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown[]; failureSummary?: string }>;
}

/** Lets the stub send token n only after the test released it. */
function tokenGate() {
  let released = 0;
  let waiting: Array<() => void> = [];
  return {
    beforeToken: async (position: number) => {
      while (position >= released) await new Promise<void>((resolve) => waiting.push(resolve));
    },
    release(count = 1) {
      released += count;
      const woken = waiting;
      waiting = [];
      for (const wake of woken) wake();
    },
  };
}

/** Polls a locator until its text passes `check`; the message says what was last seen. */
async function waitForText(locator: Locator, check: (text: string) => boolean, what: string, timeoutMs = 60_000): Promise<string> {
  let last = '';
  try {
    return await waitFor(
      async () => {
        last = (await locator.count()) === 0 ? '' : ((await locator.first().textContent()) ?? '');
        return check(last) ? last : undefined;
      },
      { timeoutMs, intervalMs: 50, what },
    );
  } catch (error) {
    throw new Error(`${String(error)}; last text: ${JSON.stringify(last)}`, { cause: error });
  }
}

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(outputDirectory, `${name}.png`), fullPage: true });
}

/** axe-core's check of the page as it is now: the violations of impact serious or critical. */
async function seriousAccessibilityViolations(page: Page): Promise<AxeViolation[]> {
  // Evaluated as a string through the DevTools protocol: the page's Content-Security-Policy
  // (scripts from the page's own origin only) stays on, as users get it.
  const source = await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(source);
  const violations = await page.evaluate<AxeViolation[]>('axe.run(document, { resultTypes: ["violations"] }).then((result) => result.violations)');
  return violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
}

function describeViolations(violations: AxeViolation[]): string {
  return violations
    .map((violation) => `${violation.id} (${violation.impact}): ${violation.help} at ${violation.nodes.map((node) => JSON.stringify(node.target)).join(', ')}`)
    .join('\n');
}

async function search(api: ApiProcess, knowledgeBaseId: string, query: string): Promise<SearchHit> {
  const response = await fetch(`${api.url}/v1/knowledge-bases/${knowledgeBaseId}/search`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
  assert.equal(response.status, 200);
  const hits = ((await response.json()) as { data: SearchHit[] }).data;
  assert.ok(hits[0] !== undefined, `no passage found for ${query}`);
  return hits[0];
}

async function knowledgeBaseNames(api: ApiProcess): Promise<string[]> {
  const response = await fetch(`${api.url}/v1/knowledge-bases`);
  return ((await response.json()) as { data: Array<{ name: string }> }).data.map((knowledgeBase) => knowledgeBase.name);
}

async function knowledgeBaseIdNamed(api: ApiProcess, name: string): Promise<string> {
  const response = await fetch(`${api.url}/v1/knowledge-bases`);
  const found = ((await response.json()) as { data: Array<{ id: string; name: string }> }).data.find((knowledgeBase) => knowledgeBase.name === name);
  assert.ok(found !== undefined, `no knowledge base named ${name}`);
  return found.id;
}

interface Scenario {
  label: string;
  viewport: { width: number; height: number };
  knowledgeBaseName: string;
  /** Uploaded together; the first one is the one asked about. */
  files: string[];
  /** A file that must end `failed`, with the words its row must show. */
  failing?: { file: string; reason: RegExp };
  question: string;
  answerTokens: string[];
  expectedDocument: string;
  followUp: string;
  followUpTokens: string[];
  /** Declared on the answer by the page (CJK fonts and line breaking), or undefined for none. */
  answerLanguage: string | undefined;
}

/**
 * One visit: a knowledge base created, files uploaded until ready or failed, a question answered
 * token by token, a citation opened, a follow-up stopped, an error event shown as an error,
 * axe-core's check. Returns the page, still open, for checks of its own.
 */
async function runScenario(browser: Browser, api: ApiProcess, stub: StubOpenAiServer, scenario: Scenario): Promise<Page> {
  const context = await browser.newContext({ viewport: scenario.viewport });
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  await page.goto(api.url);
  await waitForText(page.locator('#server-mode'), (text) => text.includes('language model'), 'the server mode');

  // A knowledge base, created with the keyboard.
  await page.getByLabel('New knowledge base').fill(scenario.knowledgeBaseName);
  await page.getByLabel('New knowledge base').press('Enter');
  const chosen = page.getByRole('button', { name: scenario.knowledgeBaseName, exact: true });
  await waitFor(async () => ((await chosen.getAttribute('aria-pressed')) === 'true' ? true : undefined), { what: 'the new knowledge base chosen' });
  const knowledgeBaseId = await knowledgeBaseIdNamed(api, scenario.knowledgeBaseName);

  // Uploads, many at once, over a slow link so that their progress can be seen.
  const network = await context.newCDPSession(page);
  await network.send('Network.enable');
  await network.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 256 * 1024 });
  const files = [...scenario.files, ...(scenario.failing === undefined ? [] : [scenario.failing.file])];
  await page.getByLabel(/Choose files/).setInputFiles(files.map((file) => sharedPath('pdfs', file)));
  const firstName = path.basename(scenario.files[0]!);
  const firstRow = page.locator('.document-list > li').filter({ hasText: firstName });
  await waitForText(firstRow.locator('.document-status'), (text) => /^Uploading: ([1-9]|[1-9]\d)% of/.test(text), `${firstName} part uploaded`);
  const progress = Number(await firstRow.locator('progress').getAttribute('value'));
  assert.ok(progress > 0 && progress < 1, `upload progress ${progress}`);
  await screenshot(page, `${scenario.label}-1-uploading`);
  await network.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });

  for (const file of scenario.files) {
    const row = page.locator('.document-list > li').filter({ hasText: path.basename(file) });
    await waitForText(row.locator('.document-status'), (text) => text.startsWith('Ready') || text.startsWith('Failed'), `${file} ready`, 180_000);
    assert.match((await row.locator('.document-status').textContent()) ?? '', /^Ready: \d+ pages?, \d+ passages?$/);
  }
  if (scenario.failing !== undefined) {
    const row = page.locator('.document-list > li').filter({ hasText: path.basename(scenario.failing.file) });
    await waitForText(row.locator('.document-status'), (text) => text === 'Failed', `${scenario.failing.file} failed`, 180_000);
    assert.match((await row.locator('.document-reason').textContent()) ?? '', scenario.failing.reason);
  }
  await screenshot(page, `${scenario.label}-2-documents`);

  // A question, sent with Enter; the answer grows one token at a time.
  const firstGate = tokenGate();
  stub.setBehaviours([{ kind: 'stream', tokens: scenario.answerTokens, beforeToken: firstGate.beforeToken }]);
  await page.getByLabel('Question', { exact: true }).fill(scenario.question);
  await page.getByLabel('Question', { exact: true }).press('Enter');
  const firstTurn = page.locator('.conversation > li').nth(0);
  const answer = firstTurn.locator('.answer-text');
  await waitForText(firstTurn.locator('.turn-status'), (text) => text === 'Answering…', 'the sources of the first answer');
  const seen: string[] = [];
  for (let count = 1; count <= scenario.answerTokens.length; count += 1) {
    firstGate.release();
    const expected = scenario.answerTokens.slice(0, count).join('');
    seen.push(await waitForText(answer, (text) => text === expected, `the answer after ${count} tokens`));
    if (count === Math.ceil(scenario.answerTokens.length / 2)) await screenshot(page, `${scenario.label}-3-streaming`);
  }
  assert.equal(new Set(seen).size, scenario.answerTokens.length, 'each token showed as its own step');
  await waitForText(firstTurn.locator('.turn-status'), (text) => text === 'Answered by the language model', 'the end of the first answer');
  await firstTurn.locator('.sources summary').click();
  await page.screenshot({ path: path.join(outputDirectory, `${scenario.label}-answer.png`) });
  assert.equal(await answer.getAttribute('lang'), scenario.answerLanguage ?? null);

  // Its citation opens the passage: the document, the page and the passage the search finds first.
  const expected = await search(api, knowledgeBaseId, scenario.question);
  assert.equal(expected.documentName, scenario.expectedDocument);
  const citation = answer.getByRole('link', { name: /^Source 1:/ });
  await citation.click();
  const dialog = page.getByRole('dialog');
  await waitFor(async () => ((await dialog.isVisible()) ? true : undefined), { what: 'the passage dialog' });
  assert.equal(await dialog.locator('.passage-title').textContent(), scenario.expectedDocument);
  assert.equal(await dialog.locator('.passage-page').textContent(), `Page ${expected.page}`);
  assert.equal(await dialog.locator('mark').textContent(), expected.text);
  await screenshot(page, `${scenario.label}-4-citation`);
  const dialogViolations = await seriousAccessibilityViolations(page);
  assert.deepEqual(dialogViolations, [], describeViolations(dialogViolations));
  await page.keyboard.press('Escape');
  await waitFor(async () => ((await dialog.isVisible()) ? undefined : true), { what: 'the dialog to close' });
  assert.equal(
    await page.evaluate('document.activeElement.getAttribute("aria-label")'),
    await citation.getAttribute('aria-label'),
    'focus went back to the citation',
  );

  // A follow-up: the first turn goes as history; Stop ends the stream and the server closes the model's.
  const secondGate = tokenGate();
  stub.setBehaviours([
    { kind: 'stream', tokens: [scenario.followUp] },
    { kind: 'stream', tokens: scenario.followUpTokens, beforeToken: secondGate.beforeToken },
  ]);
  await page.getByLabel('Question', { exact: true }).fill(scenario.followUp);
  await page.getByRole('button', { name: 'Ask', exact: true }).click();
  const secondTurn = page.locator('.conversation > li').nth(1);
  secondGate.release(3);
  const partial = scenario.followUpTokens.slice(0, 3).join('');
  await waitForText(secondTurn.locator('.answer-text'), (text) => text === partial, 'the start of the second answer');
  // The last request: the model first rewrote the follow-up as a standalone question (its own request).
  const followUpRequest = stub.requests.at(-1);
  assert.ok(
    followUpRequest !== undefined && followUpRequest.body.messages?.at(-1)?.content.includes(scenario.followUp),
    'the stub got the second answer request',
  );
  const sentMessages = JSON.stringify(followUpRequest.body.messages);
  assert.ok(sentMessages.includes(scenario.question), 'the first question went as history');
  assert.ok(sentMessages.includes(scenario.answerTokens.join('')), 'the first answer went as history');
  await page.getByRole('button', { name: 'Stop', exact: true }).click();
  await waitFor(async () => (followUpRequest.wasAborted() ? true : undefined), { what: 'the server to close the model stream' });
  await waitForText(secondTurn.locator('.turn-status'), (text) => text === 'Stopped: the answer above is incomplete', 'the stopped status');
  assert.equal(await secondTurn.locator('.message.assistant').getAttribute('data-state'), 'stopped');
  assert.equal(await page.getByRole('button', { name: 'Stop', exact: true }).isDisabled(), true);
  assert.equal(await page.getByRole('button', { name: 'Ask', exact: true }).isEnabled(), true);
  assert.equal(await secondTurn.locator('.answer-text').textContent(), partial);
  await screenshot(page, `${scenario.label}-5-stopped`);

  // An error event shows as an error, never as answer text.
  stub.setBehaviours([
    { kind: 'stream', tokens: [scenario.followUp] },
    { kind: 'stream', tokens: scenario.followUpTokens, errorEventAfterTokens: 2 },
  ]);
  await page.getByLabel('Question', { exact: true }).fill(scenario.followUp);
  await page.getByLabel('Question', { exact: true }).press('Enter');
  const thirdTurn = page.locator('.conversation > li').nth(2);
  const error = thirdTurn.getByRole('alert');
  await waitForText(error, (text) => text.includes('(llm_failed)'), 'the error event');
  assert.equal(await thirdTurn.locator('.turn-status').textContent(), 'The answer failed');
  assert.equal(await thirdTurn.locator('.answer-text').textContent(), scenario.followUpTokens.slice(0, 2).join(''));
  await screenshot(page, `${scenario.label}-6-error`);

  const violations = await seriousAccessibilityViolations(page);
  assert.deepEqual(violations, [], describeViolations(violations));
  assert.deepEqual(pageErrors, []);
  return page;
}

describe('the web page at / in headless Chromium', () => {
  let browser: Browser;
  let stub: StubOpenAiServer;
  let api: ApiProcess;

  before(async () => {
    assert.ok(existsSync(chromiumPath), `Chromium is not installed at ${chromiumPath}: apt-get install -y chromium (.ci/run does)`);
    // The page as the sources are now, into apps/web/dist where the API serves it from.
    await build({ root: webDirectory, configFile: path.join(webDirectory, 'vite.config.js'), logLevel: 'warn' });
    await mkdir(outputDirectory, { recursive: true });
    stub = await startStubOpenAiServer([{ kind: 'stream', tokens: ['unused'] } satisfies StubBehaviour]);
    api = await startApiProcess({ env: stubModelEnvironment(stub) });
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumFlags });
  });

  after(async () => {
    await browser?.close();
    await api?.stop();
    await stub?.close();
  });

  it('uploads a PDF, streams a cited answer, opens the cited page, stops a follow-up and passes axe, in English', { timeout: 600_000 }, async () => {
    const page = await runScenario(browser, api, stub, {
      label: 'english',
      viewport: { width: 1280, height: 860 },
      knowledgeBaseName: 'TraceMonkey paper',
      files: ['normal_text/tracemonkey_14p.pdf'],
      failing: { file: 'corrupt/bad_pdfparse_03_invalid.pdf', reason: /damaged|corrupt|not start like a PDF/i },
      question: 'Which optimizations are easy because traces are in SSA form?',
      answerTokens: ['Because', ' traces', ' are', ' in', ' SSA', ' form,', ' constant', ' folding', ' and', ' CSE', ' are', ' simple', ' [1].'],
      expectedDocument: 'tracemonkey_14p.pdf',
      followUp: 'How are side exits handled?',
      followUpTokens: ['Side', ' exits', ' return', ' to', ' the', ' interpreter', ' [1].'],
      answerLanguage: undefined,
    });

    // A file dropped on the drop zone; deleting it and the knowledge base asks first.
    const dataTransfer = await page.evaluateHandle(
      '(() => { const data = new DataTransfer(); data.items.add(new File(["Dropped notes about trace trees."], "dropped-notes.txt", { type: "text/plain" })); return data; })()',
    );
    await page.locator('#drop-zone').dispatchEvent('drop', { dataTransfer });
    const droppedRow = page.locator('.document-list > li').filter({ hasText: 'dropped-notes.txt' });
    await waitForText(droppedRow.locator('.document-status'), (text) => text === 'Ready: 1 page, 1 passage', 'the dropped file ready');
    await page.getByRole('button', { name: 'Delete document dropped-notes.txt' }).click();
    const confirmation = page.getByRole('dialog');
    assert.match((await confirmation.textContent()) ?? '', /Delete the document “dropped-notes.txt”/);
    await confirmation.getByRole('button', { name: 'Delete document' }).click();
    await waitFor(async () => ((await droppedRow.count()) === 0 ? true : undefined), { what: 'the dropped file gone' });
    assert.equal(await page.locator('.document-list > li').filter({ hasText: 'tracemonkey_14p.pdf' }).count(), 1);

    const removeKnowledgeBase = page.getByRole('button', { name: 'Delete knowledge base TraceMonkey paper' });
    await removeKnowledgeBase.click();
    await page.keyboard.press('Escape');
    await waitFor(async () => ((await confirmation.isVisible()) ? undefined : true), { what: 'the confirmation closed' });
    assert.ok((await knowledgeBaseNames(api)).includes('TraceMonkey paper'), 'Escape deleted nothing');
    await removeKnowledgeBase.click();
    await confirmation.getByRole('button', { name: 'Delete knowledge base' }).click();
    await waitFor(async () => ((await removeKnowledgeBase.count()) === 0 ? true : undefined), { what: 'the knowledge base gone' });
    assert.ok(!(await knowledgeBaseNames(api)).includes('TraceMonkey paper'));
    assert.equal(await page.getByLabel('Question', { exact: true }).isDisabled(), true, 'no knowledge base chosen, no question');

    // The API key: kept in the browser, sent as a Bearer header, never in a URL.
    await page.getByText('API key', { exact: true }).click();
    const sent = page.waitForRequest((request) => request.url().includes('/v1/knowledge-bases'));
    await page.getByLabel(/^API key \(/).fill('pk-web-test');
    await page.getByRole('button', { name: 'Save key' }).click();
    const request = await sent;
    assert.equal(request.headers()['authorization'], 'Bearer pk-web-test');
    assert.ok(!request.url().includes('pk-web-test'));
    const afterReload = page.waitForRequest((request) => request.url().includes('/v1/knowledge-bases'));
    await page.reload();
    assert.equal((await afterReload).headers()['authorization'], 'Bearer pk-web-test', 'the key survives a reload');
    await page.context().close();
  });

  it('loads without a key from a server that requires one, asks for the key on 401, then works with it as a Bearer header', { timeout: 120_000 }, async () => {
    const adminKey = 'web-page-test-admin-key';
    const keyed = await startApiProcess({ env: { ADMIN_API_KEY: adminKey } });
    const context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
    try {
      const page = await context.newPage();
      const answered = page.waitForResponse((response) => response.url().endsWith('/v1/knowledge-bases'));
      const loaded = await page.goto(keyed.url);
      assert.equal(loaded?.status(), 200, 'the page itself needs no key');
      assert.equal((await answered).status(), 401);
      await waitForText(page.locator('#notice'), (text) => text.includes('needs an API key'), 'the notice asking for a key');
      assert.equal(await page.locator('#api-key-panel').getAttribute('open'), '', 'the key field opened');
      await page.getByLabel(/^API key \(/).fill(adminKey);
      await page.getByLabel(/^API key \(/).press('Enter');
      await waitFor(async () => ((await page.locator('#notice').isHidden()) ? true : undefined), { what: 'the notice gone once the key works' });
      await page.getByLabel('New knowledge base').fill('Keyed');
      await page.getByRole('button', { name: 'Create', exact: true }).click();
      await waitFor(async () => ((await page.getByRole('button', { name: 'Keyed', exact: true }).count()) === 1 ? true : undefined), {
        what: 'the knowledge base created with the key',
      });
      const listed = await fetch(`${keyed.url}/v1/knowledge-bases`, { headers: { authorization: `Bearer ${adminKey}` } });
      assert.deepEqual(
        ((await listed.json()) as { data: Array<{ name: string }> }).data.map((knowledgeBase) => knowledgeBase.name),
        ['Keyed'],
      );
      await screenshot(page, 'api-key');
    } finally {
      await context.close();
      await keyed.stop();
    }
  });

  it('does the same with a Chinese PDF and question on a 375 px wide screen', { timeout: 600_000 }, async () => {
    const page = await runScenario(browser, api, stub, {
      label: 'chinese',
      viewport: { width: 375, height: 812 },
      knowledgeBaseName: '化学资料',
      files: ['cjk/zh_mineru_chem_intro.pdf', 'cjk/zh_pdfjs_issue19360_sourcehan.pdf'],
      question: '什么是化学方程式？',
      answerTokens: ['化学方程式', '又称', '化学反应式', '，', '是用', '化学式', '来描述', '物质之间', '不同化学反应', '的式子', '[1]', '。'],
      expectedDocument: 'zh_mineru_chem_intro.pdf',
      followUp: '什么是实验式？',
      followUpTokens: ['实验式', '又称', '最简式', '，', '表示', '各原子', '最简单', '整数比例', '[1]', '。'],
      answerLanguage: 'zh',
    });
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth');
    assert.ok(overflow <= 375, `the page is ${overflow} px wide at 375 px: it scrolls sideways`);
    await page.context().close();
  });
});
