import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The app imports only the shared contracts from outside web/ (types and pure protocol code).
const contracts = fileURLToPath(new URL('../services/shared/contracts/', import.meta.url));

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react()],
  server: { host: '127.0.0.1', fs: { allow: ['.', contracts] } },
  preview: { host: '127.0.0.1' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // Print gzip sizes: the first load is budgeted (web/README.md).
    reportCompressedSize: true,
  },
});
