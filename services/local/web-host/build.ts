/**
 * `npm run build:web`: builds web/ into web/dist when the build there is missing or stale,
 * exactly as `npm start` does (same hash, same lock). Run it before deploying the web stack.
 */
import { WebBuildError, WebBuildLockTimeoutError } from './errors.js';
import { ensureWebBuild, hasWebApp, DEFAULT_WEB_DIR } from './web-build.js';

async function main(): Promise<number> {
  if (!hasWebApp()) {
    process.stderr.write(`npm run build:web: ${DEFAULT_WEB_DIR}/index.html does not exist: there is no web app to build\n`);
    return 1;
  }
  const build = await ensureWebBuild({ log: (line) => process.stdout.write(`${line}\n`), onLine: (line) => process.stdout.write(`${line}\n`) });
  process.stdout.write(`${build.built ? 'built' : 'up to date'}: ${build.distDir} (sources ${build.hash.slice(0, 12)})\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    const known = err instanceof WebBuildError || err instanceof WebBuildLockTimeoutError;
    process.stderr.write(`npm run build:web: ${known ? (err as Error).message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
