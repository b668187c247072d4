import type { ParsedDocument } from '@passage/spec';
import { compile } from 'html-to-text';
import { decodeUtf8Text } from './parse-text.js';

const skip = { format: 'skip' } as const;
const headingOptions = { uppercase: false } as const;

/** Visible text only: what a reader sees, without markup, scripts, styles or link targets. */
const convertToText = compile({
  wordwrap: false,
  // The default truncates long input with only a console warning; the parsing thread's time and
  // memory bounds limit the work instead.
  limits: { maxInputLength: Number.MAX_SAFE_INTEGER },
  selectors: [
    { selector: 'head', ...skip },
    { selector: 'script', ...skip },
    { selector: 'style', ...skip },
    { selector: 'noscript', ...skip },
    { selector: 'template', ...skip },
    { selector: 'svg', ...skip },
    { selector: 'img', ...skip },
    { selector: 'a', options: { ignoreHref: true, linkBrackets: false } },
    { selector: 'h1', options: headingOptions },
    { selector: 'h2', options: headingOptions },
    { selector: 'h3', options: headingOptions },
    { selector: 'h4', options: headingOptions },
    { selector: 'h5', options: headingOptions },
    { selector: 'h6', options: headingOptions },
    // Tables stay blocks (a layout table must not be laid out as a grid); a row is a line and
    // its cells are separated by tabs, as pdf-parse does for PDF tables.
    { selector: 'tr', format: 'block', options: { leadingLineBreaks: 1, trailingLineBreaks: 1 } },
    { selector: 'th', format: 'inlineSurround', options: { suffix: '\t' } },
    { selector: 'td', format: 'inlineSurround', options: { suffix: '\t' } },
    { selector: 'caption', format: 'block', options: { leadingLineBreaks: 1, trailingLineBreaks: 1 } },
  ],
});

const convertTitle = compile({ wordwrap: false, limits: { maxInputLength: Number.MAX_SAFE_INTEGER } });

/** An HTML document becomes one page of its visible text; `<title>` becomes the title. */
export function parseHtml(bytes: Uint8Array): ParsedDocument {
  const html = decodeUtf8Text(bytes);
  const title = findTitle(html);
  return {
    type: 'html',
    pages: [{ number: 1, text: trimLineEnds(convertToText(html)) }],
    ...(title === undefined ? {} : { title }),
  };
}

function trimLineEnds(text: string): string {
  return text
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n');
}

function findTitle(html: string): string | undefined {
  const match = /<title\b[^>]*>([\s\S]*?)<\/title\s*>/i.exec(html);
  if (match?.[1] === undefined) return undefined;
  // Converting the title's content decodes entities such as &amp;.
  const title = convertTitle(match[1]).replace(/\s+/g, ' ').trim();
  return title === '' ? undefined : title;
}
