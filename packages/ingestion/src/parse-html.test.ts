import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseHtml } from './parse-html.js';

const utf8 = (text: string) => new TextEncoder().encode(text);

const page = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Tides &amp; Currents</title>
  <style>body { color: red; } .secret { display: none }</style>
  <script>window.analytics = "tracking-code";</script>
</head>
<body>
  <nav><a href="/home">Home</a></nav>
  <h1>Spring tides</h1>
  <p>Spring tides happen at <a href="https://example.org/moon">new and full moon</a>.</p>
  <img src="chart.png" alt="tide chart">
  <script type="module">console.log("inline-module")</script>
  <noscript>Enable JavaScript to see the chart</noscript>
  <ul><li>High water</li><li>Low water</li></ul>
  <table><tr><th>Port</th><th>Range</th></tr><tr><td>Brest</td><td>7 m</td></tr></table>
  <p>潮汐是由月球引力引起的。</p>
</body>
</html>`;

describe('parseHtml', () => {
  const document = parseHtml(utf8(page));
  const text = document.pages[0]?.text ?? '';

  test('gives one page of visible text and the title', () => {
    assert.equal(document.type, 'html');
    assert.equal(document.pages.length, 1);
    assert.equal(document.pages[0]?.number, 1);
    assert.equal(document.title, 'Tides & Currents');
  });

  test('keeps the visible text as written', () => {
    for (const visible of ['Home', 'Spring tides', 'Spring tides happen at new and full moon.', 'High water', 'Low water', '潮汐是由月球引力引起的。']) {
      assert.ok(text.includes(visible), `missing ${JSON.stringify(visible)} in ${JSON.stringify(text)}`);
    }
    assert.ok(!text.includes('SPRING TIDES'), 'headings keep their case');
  });

  test('puts a table row on a line, its cells separated by tabs', () => {
    assert.ok(text.includes('Port\tRange\nBrest\t7 m\n'), JSON.stringify(text));
  });

  test('leaves out scripts, styles, the head, images and link targets', () => {
    for (const hidden of [
      'tracking-code',
      'inline-module',
      'color: red',
      'display: none',
      'utf-8',
      'chart.png',
      'tide chart',
      'Enable JavaScript',
      'example.org',
      '/home',
      '[',
      ']',
    ]) {
      assert.ok(!text.includes(hidden), `${JSON.stringify(hidden)} leaked into ${JSON.stringify(text)}`);
    }
  });

  test('has no title when the page has none', () => {
    const fragment = parseHtml(utf8('<p>Just a fragment with <style>p{}</style>a style</p>'));
    assert.equal(fragment.title, undefined);
    assert.equal(fragment.pages[0]?.text, 'Just a fragment with a style');
  });
});
