import { defineConfig } from 'vite';

// Relative asset and API paths, so the page also works when a proxy serves the API under a prefix.
export default defineConfig({
  base: './',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
});
