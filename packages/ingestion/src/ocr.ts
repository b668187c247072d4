import { spawn } from 'node:child_process';
import { DocumentError } from '@passage/spec';

/** How documents without a text layer are read; plain data, as it crosses to the parsing thread. */
export interface OcrSettings {
  /**
   * `auto`: OCR when the tesseract binary and at least one of `languages` are installed (the
   * languages that are, are used); `on`: OCR is required, and a scan fails `ocr_unavailable`
   * without it; `off`: never (a scan fails `pdf_no_text_layer`). Default: `auto`.
   */
  mode?: 'auto' | 'on' | 'off';
  /** Tesseract languages joined by `+`. Default: `eng+chi_sim`. */
  languages?: string;
  /** Longest OCR (and rendering) of one page or image, in milliseconds. Default: 120000. */
  pageTimeoutMs?: number;
}

/** A page (or image) whose OCR is about to start: `index` from 1 of `total` in its document. */
export interface OcrPageStart {
  index: number;
  total: number;
  /** The page's own limit, which its rendering and its OCR get each (OcrSettings.pageTimeoutMs). */
  pageTimeoutMs: number;
}

let ocrPageListener: ((page: OcrPageStart) => void) | undefined;

/**
 * Tells `listener` of each page before its OCR starts (the parsing thread passes it on: progress,
 * and a time limit that grows with the pages to read). One per thread, as a thread parses one document.
 */
export function listenToOcrPages(listener: ((page: OcrPageStart) => void) | undefined): void {
  ocrPageListener = listener;
}

/** Announces a page to the listener of {@link listenToOcrPages}, if any. */
export function announceOcrPage(engine: OcrEngine, index: number, total: number): void {
  ocrPageListener?.({ index, total, pageTimeoutMs: engine.pageTimeoutMs });
}

/** OCR that was found usable: the languages to read with. */
export interface OcrEngine {
  languages: string;
  pageTimeoutMs: number;
}

const defaultLanguages = 'eng+chi_sim';
const defaultPageTimeoutMs = 120_000;
/**
 * Pixels of the longer side of a page rendered for OCR (about 220 dpi for A4 or Letter). Chosen
 * by measurement on the shared scans: against 3508 (300 dpi A4) it took half the time and read
 * the Chinese scan better and the English one as well; 300 dpi of the Chinese scan's large pages
 * made 5107 × 7500 pixel images that took tesseract 40 s a page.
 */
const renderLongSidePixels = 2400;
/** Largest output accepted from a tool: a rendered page or the text of one. */
const maxOutputBytes = 256 * 1024 * 1024;

/**
 * Finds out whether OCR can run: asks `tesseract --list-langs` (once per thread: a parse runs in
 * a thread of its own) and keeps the configured languages that are installed. Undefined when OCR
 * is off, or in `auto` mode when it is not available; throws `ocr_unavailable` in `on` mode.
 */
export async function resolveOcrEngine(settings: OcrSettings | undefined): Promise<OcrEngine | undefined> {
  const mode = settings?.mode ?? 'auto';
  if (mode === 'off') return undefined;
  const wanted = (settings?.languages ?? defaultLanguages).split('+').filter((language) => language !== '');
  const installed = await installedLanguages();
  const usable = installed === undefined ? [] : wanted.filter((language) => installed.has(language));
  const missing = wanted.filter((language) => !usable.includes(language));
  if (mode === 'on' && (installed === undefined || missing.length > 0)) {
    throw new DocumentError(
      'ocr_unavailable',
      installed === undefined
        ? 'OCR is required (OCR_ENABLED=true) but the tesseract binary is not installed'
        : `OCR is required (OCR_ENABLED=true) but these tesseract languages are not installed: ${missing.join(', ')}`,
    );
  }
  if (usable.length === 0) return undefined;
  return { languages: usable.join('+'), pageTimeoutMs: settings?.pageTimeoutMs ?? defaultPageTimeoutMs };
}

let languagesOfThisThread: Promise<Set<string> | undefined> | undefined;

function installedLanguages(): Promise<Set<string> | undefined> {
  languagesOfThisThread ??= runTool('tesseract', ['--list-langs'], undefined, 10_000).then(
    (output) =>
      new Set(
        output
          .toString('utf8')
          .split('\n')
          .slice(1)
          .map((line) => line.trim())
          .filter((line) => line !== '' && line !== 'osd'),
      ),
    () => undefined,
  );
  return languagesOfThisThread;
}

/**
 * Reads the text of an image (PNG, JPEG, TIFF, WebP, BMP, GIF: what leptonica decodes) with
 * tesseract, page segmentation 3 (automatic layout). Fails `ocr_timeout` after the page time
 * limit, `ocr_failed` when tesseract cannot read the image.
 */
export async function recognizeImage(engine: OcrEngine, image: Uint8Array): Promise<string> {
  try {
    const output = await runTool('tesseract', ['stdin', 'stdout', '-l', engine.languages, '--psm', '3'], image, engine.pageTimeoutMs);
    return output.toString('utf8');
  } catch (error) {
    throw toOcrError(error, 'OCR of the image', engine.pageTimeoutMs);
  }
}

/**
 * Renders one page of a PDF as a grey PNG (pdftoppm, longer side {@link renderLongSidePixels}) for OCR. The password of an
 * encrypted PDF goes to pdftoppm as an argument: it lives only as long as that process.
 */
export async function renderPdfPage(engine: OcrEngine, pdf: Uint8Array, pageNumber: number, password?: string): Promise<Uint8Array> {
  const page = String(pageNumber);
  const passwordArguments = password === undefined || password === '' ? [] : ['-upw', password];
  try {
    return await runTool(
      'pdftoppm',
      ['-f', page, '-l', page, '-scale-to', String(renderLongSidePixels), '-gray', '-png', ...passwordArguments, '-'],
      pdf,
      engine.pageTimeoutMs,
    );
  } catch (error) {
    throw toOcrError(error, `Rendering page ${pageNumber} for OCR`, engine.pageTimeoutMs);
  }
}

class ToolError extends Error {
  constructor(
    message: string,
    readonly timedOut: boolean,
    readonly missing: boolean,
  ) {
    super(message);
    this.name = 'ToolError';
  }
}

function toOcrError(error: unknown, what: string, timeoutMs: number): DocumentError {
  if (error instanceof ToolError && error.timedOut) {
    return new DocumentError('ocr_timeout', `${what} took longer than ${timeoutMs / 1000} s (OCR_PAGE_TIMEOUT_MS) and was stopped`);
  }
  if (error instanceof ToolError && error.missing) return new DocumentError('ocr_unavailable', `${what} needs a tool that is not installed: ${error.message}`);
  return new DocumentError('ocr_failed', `${what} failed: ${(error as Error).message}`, { cause: error });
}

/**
 * Runs a tool with `input` on its standard input and resolves with its standard output. The
 * tool runs under coreutils' `timeout -s KILL`: it dies at the limit even when this thread is
 * terminated first (a parse stopped by its own time limit would otherwise leave it running).
 */
function runTool(command: string, parameters: string[], input: Uint8Array | undefined, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const seconds = (timeoutMs / 1000).toFixed(3);
    // One thread per tesseract: the machine's cores are shared by parses in flight.
    const child = spawn('timeout', ['-s', 'KILL', seconds, command, ...parameters], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, OMP_THREAD_LIMIT: '1' },
    });
    const output: Buffer[] = [];
    let outputBytes = 0;
    let errorText = '';
    child.stdout.on('data', (piece: Buffer) => {
      outputBytes += piece.length;
      if (outputBytes > maxOutputBytes) {
        child.kill('SIGKILL');
        return;
      }
      output.push(piece);
    });
    child.stderr.on('data', (piece: Buffer) => {
      errorText = (errorText + piece.toString('utf8')).slice(-2000);
    });
    child.once('error', (error) => reject(new ToolError(`${command}: ${error.message}`, false, (error as NodeJS.ErrnoException).code === 'ENOENT')));
    child.once('close', (code, signal) => {
      // timeout exits 137 when it had to kill, 127 when the command is not found.
      if (code === 0) resolve(Buffer.concat(output));
      else if (code === 137 || code === 124 || signal === 'SIGKILL') reject(new ToolError(`${command} was stopped`, outputBytes <= maxOutputBytes, false));
      else if (code === 127) reject(new ToolError(`${command} is not installed`, false, true));
      else reject(new ToolError(`${command} exited with code ${code}: ${errorText.trim().split('\n').slice(-3).join(' ')}`, false, false));
    });
    // A tool that stops reading early (it failed) closes the pipe: that is reported by its exit code.
    child.stdin.on('error', () => {});
    child.stdin.end(input === undefined ? undefined : Buffer.from(input.buffer, input.byteOffset, input.byteLength));
  });
}
