import { DocumentError, type ParsedDocument } from '@passage/spec';
import { announceOcrPage, recognizeImage, resolveOcrEngine, type OcrSettings } from './ocr.js';

/** An image (PNG, JPEG, TIFF, WebP, BMP, GIF) becomes one page of the text OCR reads in it. */
export async function parseImage(bytes: Uint8Array, settings: OcrSettings | undefined): Promise<ParsedDocument> {
  const engine = await resolveOcrEngine(settings);
  if (engine === undefined) {
    throw new DocumentError(
      'ocr_unavailable',
      `Images are read with OCR, which is ${settings?.mode === 'off' ? 'turned off (OCR_ENABLED=false)' : 'not installed'}`,
    );
  }
  announceOcrPage(engine, 1, 1);
  const text = normalizeOcrText(await recognizeImage(engine, bytes));
  if (text === '') throw new DocumentError('empty_document', `OCR found no text in the image (languages ${engine.languages})`);
  return { type: 'image', pages: [{ number: 1, text }] };
}

/**
 * Tesseract's output with what it adds removed: the form feed that ends every page, trailing
 * blanks, runs of empty lines. Between two CJK characters it writes a space for every gap it
 * sees between glyphs; Chinese and Japanese have no spaces between words, so those go.
 */
export function normalizeOcrText(text: string): string {
  const cjk = '\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}\\u3000-\\u303F\\uFF00-\\uFFEF';
  const spaceBetweenCjk = new RegExp(`([${cjk}]) +(?=[${cjk}])`, 'gu');
  return text
    .replace(/\f/g, '\n')
    .split('\n')
    .map((line) => line.replace(spaceBetweenCjk, '$1').trimEnd())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
