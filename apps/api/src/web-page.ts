import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type RequestHandler } from 'express';

/** Where `npm run build` puts the web page: apps/web/dist, the same way up from src/ and from dist/. */
export const webPageDirectory = fileURLToPath(new URL('../../web/dist', import.meta.url));

/**
 * The web page's files (GET and HEAD; anything not found falls through to the 404). Vite names
 * every asset by a hash of its content, so assets are cached for good and index.html is checked
 * each time: a new build is seen at once. The page loads nothing from elsewhere, which the
 * Content-Security-Policy makes a rule.
 */
export function webPage(directory = webPageDirectory): RequestHandler {
  return express.static(directory, {
    redirect: false,
    setHeaders(response, file) {
      const asset = file.includes(`${path.sep}assets${path.sep}`);
      response.setHeader('Cache-Control', asset ? 'public, max-age=31536000, immutable' : 'no-cache');
      response.setHeader('X-Content-Type-Options', 'nosniff');
      response.setHeader('Content-Security-Policy', "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'");
    },
  });
}
