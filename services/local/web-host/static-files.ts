/**
 * How the web host answers for a path: which file (if any) serves it, its content type and
 * its caching. Pure: no file system access, so the rules are tested alone.
 */
import { extname, posix } from 'node:path';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.otf': 'font/otf',
  '.wasm': 'application/wasm',
};

/** Vite puts every hashed output file here; nothing else in dist/ has a content hash in its name. */
export const HASHED_ASSETS_PREFIX = '/assets/';

export const CACHE_CONTROL = {
  /** Hashed names change with their content: cache for a year, never revalidate. */
  immutable: 'public, max-age=31536000, immutable',
  /** index.html, config.json and unhashed files: always revalidate, so a new build shows at once. */
  revalidate: 'no-cache',
} as const;

/** The content type for a file name; binary when unknown (with nosniff, never guessed as HTML). */
export function contentTypeOf(fileName: string): string {
  return CONTENT_TYPES[extname(fileName).toLowerCase()] ?? 'application/octet-stream';
}

/** The Cache-Control of a served path. */
export function cacheControlOf(urlPath: string): string {
  return urlPath.startsWith(HASHED_ASSETS_PREFIX) ? CACHE_CONTROL.immutable : CACHE_CONTROL.revalidate;
}

export type Route =
  /** A file of the build, by its path relative to dist/ (POSIX separators). */
  | { kind: 'file'; file: string }
  /** A client-side route of the single-page app: index.html. */
  | { kind: 'app' }
  | { kind: 'not-found' }
  | { kind: 'bad-request' };

/**
 * Paths without a file extension are the app's own routes (`/`, `/callback`, `/jobs/<id>`,
 * `/history`) and get index.html; paths with one are files, served only if they exist
 * (a missing script must be a 404, not an HTML page the browser then fails to run). Hidden
 * files and anything leaving dist/ are never served.
 */
export function routeOf(rawPath: string): Route {
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    return { kind: 'bad-request' };
  }
  if (!path.startsWith('/') || path.includes('\0') || path.includes('\\')) return { kind: 'bad-request' };
  const segments = path.split('/').slice(1);
  if (segments.some((s) => s === '..' || s === '.' || s.startsWith('.'))) return { kind: 'not-found' };
  const last = segments.at(-1) ?? '';
  if (extname(last) === '') return { kind: 'app' };
  const file = posix.normalize(segments.join('/'));
  if (file.startsWith('..') || posix.isAbsolute(file)) return { kind: 'not-found' };
  return { kind: 'file', file };
}
