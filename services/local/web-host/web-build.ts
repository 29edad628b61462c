/**
 * Builds the web app with Vite when its `dist/` is missing or stale. Staleness is a content
 * hash of the app's sources, the contracts it imports and the lockfile, stamped into
 * `dist/` by the build that produced it. Builds go to a fresh directory that replaces
 * `dist/` only when complete, under a lock, so two stacks (or two test files) never build on
 * top of each other and a server never serves half a build.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnManaged, tail } from '../processes.js';
import { withLock } from './build-lock.js';
import { WebBuildError } from './errors.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The stamp a build leaves in `dist/`; a dotfile, so the host never serves it. */
export const BUILD_STAMP_FILE = '.cot-build.json';

/** Everything outside the app's folder that its build depends on: the contracts it imports and the locked dependency versions. */
export const SHARED_BUILD_INPUTS = [join(REPO_ROOT, 'services/shared/contracts'), join(REPO_ROOT, 'package-lock.json')] as const;

/** Inside the app's folder, what the build neither reads nor may see change under it. */
const IGNORED_NAMES = new Set(['dist', 'node_modules', '.vite', 'coverage', 'test-artifacts']);
const isOwnScratch = (name: string) => name.startsWith('.dist-');

export interface WebBuildOptions {
  /** The app's folder (index.html, vite config, src/); default `web/` of this repository. */
  webDir?: string;
  /** The environment Vite runs in; default process.env. */
  env?: Record<string, string | undefined>;
  /** Progress messages. */
  log?: (line: string) => void;
  /** Every output line of the Vite build. */
  onLine?: (line: string) => void;
}

export interface WebBuild {
  /** The built files, to serve. */
  distDir: string;
  /** The source hash the build is stamped with. */
  hash: string;
  /** False when an up-to-date build was already there. */
  built: boolean;
}

/** The default app folder. */
export const DEFAULT_WEB_DIR = join(REPO_ROOT, 'web');

/** True when `webDir` holds an app Vite can build (its entry, index.html). */
export function hasWebApp(webDir: string = DEFAULT_WEB_DIR): boolean {
  return existsSync(join(webDir, 'index.html'));
}

/** Builds `webDir` into `webDir/dist` unless the build there is stamped with the current source hash. */
export async function ensureWebBuild(opts: WebBuildOptions = {}): Promise<WebBuild> {
  const webDir = resolve(opts.webDir ?? DEFAULT_WEB_DIR);
  const distDir = join(webDir, 'dist');
  const log = opts.log ?? (() => undefined);
  const hash = await webSourceHash(webDir);
  if ((await stampedHash(distDir)) === hash) return { distDir, hash, built: false };

  return withLock(
    join(webDir, '.dist-lock'),
    async () => {
      // Whoever held the lock before us may have just built exactly this.
      if ((await stampedHash(distDir)) === hash) return { distDir, hash, built: false };
      log(`building the web app (${relative(process.cwd(), webDir) || '.'}) with Vite …`);
      const outDir = join(webDir, `.dist-build-${process.pid}`);
      try {
        await runViteBuild(webDir, outDir, opts);
        await writeFile(join(outDir, BUILD_STAMP_FILE), `${JSON.stringify({ hash, builtAt: new Date().toISOString() })}\n`);
        await replaceDir(distDir, outDir);
      } finally {
        await rm(outDir, { recursive: true, force: true });
      }
      log('web app built');
      return { distDir, hash, built: true };
    },
    { onWait: (owner) => log(`waiting for another build of the web app${owner ? ` (pid ${owner.pid})` : ''} …`) },
  );
}

/** sha256 over the relative path and content of every build input, in a stable order. */
export async function webSourceHash(webDir: string): Promise<string> {
  const hash = createHash('sha256');
  const inputs: { label: string; path: string }[] = [];
  for (const file of await listFiles(webDir)) inputs.push({ label: `web/${relative(webDir, file)}`, path: file });
  for (const input of SHARED_BUILD_INPUTS) {
    for (const file of await listFiles(input)) inputs.push({ label: relative(REPO_ROOT, file), path: file });
  }
  inputs.sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
  for (const { label, path } of inputs) {
    hash.update(`${label}\0`);
    hash.update(await readFile(path));
    hash.update('\0');
  }
  return hash.digest('hex');
}

/** Every file under `path` (or `path` itself when it is a file), skipping what the build ignores. */
async function listFiles(path: string): Promise<string[]> {
  const entries = await readdir(path, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOTDIR') return undefined;
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  if (entries === undefined) return [path];
  const files: string[] = [];
  for (const entry of entries) {
    if (IGNORED_NAMES.has(entry.name) || isOwnScratch(entry.name)) continue;
    const full = join(path, entry.name);
    if (entry.isDirectory()) files.push(...(await listFiles(full)));
    else if (entry.isFile()) files.push(full);
  }
  return files;
}

async function stampedHash(distDir: string): Promise<string | undefined> {
  try {
    const stamp = JSON.parse(await readFile(join(distDir, BUILD_STAMP_FILE), 'utf8')) as { hash?: unknown };
    return typeof stamp.hash === 'string' ? stamp.hash : undefined;
  } catch {
    return undefined;
  }
}

/** `vite build` as a child process (its own output, killable, gone with us), into `outDir`. */
async function runViteBuild(webDir: string, outDir: string, opts: WebBuildOptions): Promise<void> {
  const env: Record<string, string | undefined> = { ...(opts.env ?? process.env), NODE_ENV: 'production' };
  // A build started from a test run must still be the production build.
  for (const key of Object.keys(env)) if (key.startsWith('VITEST')) delete env[key];
  const build = spawnManaged({
    id: 'web-build',
    command: process.execPath,
    args: [viteBin(), 'build', '--outDir', outDir, '--emptyOutDir'],
    cwd: webDir,
    env,
    onLine: opts.onLine ? (line) => opts.onLine?.(line) : undefined,
  });
  const exit = await build.exited;
  if (exit.code !== 0) {
    throw new WebBuildError(`the web app failed to build (vite build in ${webDir} exited with ${exit.signal ?? `code ${exit.code}`}):\n${tail(build.output().split('\n'))}`);
  }
}

function viteBin(): string {
  const require = createRequire(join(REPO_ROOT, 'package.json'));
  const manifestPath = require.resolve('vite/package.json');
  const manifest = require(manifestPath) as { bin: string | Record<string, string> };
  const bin = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin.vite;
  if (!bin) throw new WebBuildError('the installed vite package names no vite executable');
  return join(dirname(manifestPath), bin);
}

/** Puts `fresh` where `target` is, so that `target` is never half-written. */
async function replaceDir(target: string, fresh: string): Promise<void> {
  const old = `${dirname(target)}/.dist-old-${process.pid}`;
  await rm(old, { recursive: true, force: true });
  await rename(target, old).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  await rename(fresh, target);
  await rm(old, { recursive: true, force: true });
}
