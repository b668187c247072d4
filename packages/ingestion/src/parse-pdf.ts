import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DocumentError, type ParsedDocument, type ParsedPage } from '@passage/spec';
import { PDFParse } from 'pdf-parse';
import { cleanPdfPages, joinCjkLineWraps } from './clean-pdf-text.js';
import { announceOcrPage, renderPdfPage, recognizeImage, resolveOcrEngine, type OcrSettings } from './ocr.js';
import { normalizeOcrText } from './parse-image.js';

export interface ParsePdfOptions {
  /** User or owner password of an encrypted PDF. Not needed when the user password is empty. */
  password?: string;
  /** OCR of pages without a text layer. Default: `auto` (see OcrSettings). */
  ocr?: OcrSettings;
  /**
   * Clean the text (see clean-pdf-text.ts): running headers and footers, spaced CJK, hyphenated
   * line ends on text-layer pages; wrapped CJK lines on OCR pages too. Default: true (false
   * serves the before/after figures of `npm run bench:formats`).
   */
  cleanText?: boolean;
}

/**
 * pdf.js is pdf-parse's own dependency: resolving it from pdf-parse's location finds the copy
 * pdf-parse runs (same version, same module instance) wherever the package manager put it.
 */
const pdfParseRequire = createRequire(createRequire(import.meta.url).resolve('pdf-parse'));
const pdfjsDirectory = path.dirname(pdfParseRequire.resolve('pdfjs-dist/package.json'));

/** Options for every document pdf.js opens here. */
const pdfjsOptions = {
  verbosity: 0,
  cMapUrl: `${path.join(pdfjsDirectory, 'cmaps')}${path.sep}`,
  cMapPacked: true,
  standardFontDataUrl: `${path.join(pdfjsDirectory, 'standard_fonts')}${path.sep}`,
  // Text extraction never needs compiled glyph paths; the input is hostile.
  isEvalSupported: false,
};

/** pdf.js `PasswordResponses`: why a PasswordException was raised. */
const needPasswordResponse = 1;
const incorrectPasswordResponse = 2;

/**
 * Extracts the text of every page, keeping page numbers, and appends the values of filled form
 * fields to their page. Run it in a bounded thread (see BoundedParser): the input is hostile.
 */
export async function parsePdf(bytes: Uint8Array, options: ParsePdfOptions): Promise<ParsedDocument> {
  const pages = await extractPageTexts(bytes, options.password);
  if (pages.length === 0) throw new DocumentError('pdf_corrupt', 'The PDF is damaged and cannot be read: it has no pages');

  const fieldValues = await readFormFieldValues(bytes, options.password, pages.length);
  for (const page of pages) page.text = normalizePageText(page.text);
  // Before the form values are appended: they are neither running headers nor wrapped text.
  if (options.cleanText !== false) cleanPdfPages(pages.filter((page) => page.text.trim() !== ''));
  for (const page of pages) {
    const values = fieldValues.get(page.number);
    if (values !== undefined) page.text = normalizePageText(`${page.text}\n\n${values.join('\n')}`);
  }

  const withoutText = pages.filter((page) => page.text.trim() === '');
  // A page with a text layer keeps it, even when it also holds a scanned image.
  const engine = withoutText.length === 0 ? undefined : await resolveOcrEngine(options.ocr);
  if (engine !== undefined) {
    for (const [position, page] of withoutText.entries()) {
      announceOcrPage(engine, position + 1, withoutText.length);
      const text = normalizeOcrText(await recognizeImage(engine, await renderPdfPage(engine, bytes, page.number, options.password)));
      page.text = options.cleanText === false ? text : joinCjkLineWraps(text);
    }
  }

  if (pages.every((page) => page.text.trim() === '')) {
    const count = pages.length === 1 ? '1 page' : `${pages.length} pages`;
    const reason =
      engine !== undefined
        ? `OCR (${engine.languages}) found no text either`
        : options.ocr?.mode === 'off'
          ? 'OCR is turned off (OCR_ENABLED=false)'
          : 'OCR is not available (the tesseract binary is not installed)';
    throw new DocumentError('pdf_no_text_layer', `The PDF has no text layer (${count} without extractable text, likely a scan); ${reason}`, {
      details: { pages: pages.length },
    });
  }
  return { type: 'pdf', pages };
}

async function extractPageTexts(bytes: Uint8Array, password: string | undefined): Promise<ParsedPage[]> {
  // pdf.js transfers (detaches) the buffer it is given: it gets a copy.
  const parser = new PDFParse({ ...pdfjsOptions, data: new Uint8Array(bytes), ...(password === undefined ? {} : { password }) });
  try {
    // No work per claimed page: when the last page a /Count claims does not exist, pdf.js counts
    // the pages of the tree instead (corrupt/bad_pdfjs_poppler85140_pagecount.pdf claims 213
    // million and gives one).
    const result = await parser.getText({ pageJoiner: '' });
    return result.pages.map((page) => ({ number: page.num, text: page.text }));
  } catch (error) {
    throw toDocumentError(error, password);
  } finally {
    await parser.destroy();
  }
}

function toDocumentError(error: unknown, password: string | undefined): DocumentError {
  if (error instanceof DocumentError) return error;
  if (error instanceof Error && error.name === 'PasswordException') {
    const response = passwordResponse(error);
    const given = password !== undefined && password !== '';
    const wrong = response === incorrectPasswordResponse || (response !== needPasswordResponse && given);
    return wrong
      ? new DocumentError('pdf_password_wrong', 'The password given for the PDF is wrong', { cause: error })
      : new DocumentError('pdf_password_required', 'The PDF is encrypted: send its password in the "password" field of the upload', { cause: error });
  }
  // InvalidPDFException, FormatError, UnknownErrorException and whatever else pdf.js raises
  // while reading the file all mean the same to the user: these bytes cannot be read.
  const detail = error instanceof Error ? error.message || error.name : String(error);
  return new DocumentError('pdf_corrupt', `The PDF is damaged and cannot be read: ${detail}`, { cause: error });
}

/** pdf-parse wraps pdf.js's PasswordException; the original carries the reason as `code`. */
function passwordResponse(error: Error): number | undefined {
  for (const candidate of [error, error.cause]) {
    if (typeof candidate === 'object' && candidate !== null && 'code' in candidate && typeof candidate.code === 'number') {
      return candidate.code;
    }
  }
  return undefined;
}

/**
 * Light normalization that keeps the layout pdf-parse produced: line breaks stay, trailing blanks
 * and control characters go. Kangxi radicals (U+2F00–U+2FDF) become the ideographs they look like:
 * some CJK fonts map glyphs to them (常⽤ for 常用), which defeats search.
 */
function normalizePageText(text: string): string {
  return (
    text
      .replace(/\r\n?/g, '\n')
      // eslint-disable-next-line no-control-regex -- removes control characters on purpose
      .replace(/[\u0000-\u0008\u000B-\u001F\u007F]/g, '')
      .replace(/[\u2F00-\u2FDF]/g, (radical) => radical.normalize('NFKC'))
      .split('\n')
      .map((line) => line.trimEnd())
      .join('\n')
      .replace(/^\n+|\n+$/g, '')
  );
}

/** The part of pdf.js's API that reading form fields needs. */
interface Pdfjs {
  getDocument(parameters: typeof pdfjsOptions & { data: Uint8Array; password?: string }): PdfjsLoadingTask;
}
interface PdfjsLoadingTask {
  promise: Promise<{ getFieldObjects(): Promise<Record<string, FormField[]> | null> }>;
  destroy(): Promise<void>;
}
interface FormField {
  type?: string;
  value?: unknown;
  /** Page index from 0; -1 or missing when the widget is on no page. */
  page?: number;
  password?: boolean;
}

let pdfjsModule: Promise<Pdfjs> | undefined;

function loadPdfjs(): Promise<Pdfjs> {
  pdfjsModule ??= import(pathToFileURL(pdfParseRequire.resolve('pdfjs-dist/legacy/build/pdf.mjs')).href) as Promise<Pdfjs>;
  return pdfjsModule;
}

const valueFieldTypes = new Set(['text', 'combobox', 'listbox']);

/**
 * Values of filled text and choice fields, as "Label: value" lines by page number. pdf-parse
 * reads page content only, and a filled form keeps its values in the fields, so the same bytes
 * are opened once more with pdf.js; `getFieldObjects` reads the AcroForm without walking pages.
 */
async function readFormFieldValues(bytes: Uint8Array, password: string | undefined, pageCount: number): Promise<Map<number, string[]>> {
  const pdfjs = await loadPdfjs();
  const task = pdfjs.getDocument({ ...pdfjsOptions, data: new Uint8Array(bytes), ...(password === undefined ? {} : { password }) });
  const valuesByPage = new Map<number, string[]>();
  try {
    const fields = await (await task.promise).getFieldObjects();
    const seen = new Set<string>();
    for (const [name, widgets] of Object.entries(fields ?? {})) {
      const label = fieldLabel(name);
      for (const widget of widgets) {
        if (widget.type === undefined || !valueFieldTypes.has(widget.type) || widget.password === true) continue;
        // A widget on no page (or past the last one) still holds a value: it goes to the nearest page.
        const pageIndex = typeof widget.page === 'number' ? widget.page : 0;
        const pageNumber = Math.min(Math.max(pageIndex + 1, 1), pageCount);
        for (const value of fieldValues(widget.value)) {
          const line = `${label}: ${value}`;
          const key = `${pageNumber}\n${line}`;
          if (seen.has(key)) continue;
          seen.add(key);
          const lines = valuesByPage.get(pageNumber) ?? [];
          lines.push(line);
          valuesByPage.set(pageNumber, lines);
        }
      }
    }
  } catch (error) {
    throw toDocumentError(error, password);
  } finally {
    await task.destroy();
  }
  return valuesByPage;
}

/** "form1[0].Page1[0].First Name[0]" → "First Name". */
function fieldLabel(fullName: string): string {
  const last = fullName.split('.').at(-1) ?? fullName;
  return last.replace(/\[\d+\]$/, '').trim() || fullName;
}

/** The field's values that say something: IRS forms, for one, fill fields with a lone backslash. */
function fieldValues(value: unknown): string[] {
  const values: unknown[] = Array.isArray(value) ? value : [value];
  return values.filter((item): item is string => typeof item === 'string' && /[\p{L}\p{N}]/u.test(item)).map((item) => item.trim());
}
