/**
 * The dependency check, offline, against package-lock.json (it runs with every `npm test`,
 * so in CI). The registry's bulk advisory endpoint (what `npm audit` calls) answers 405
 * here, `npm audit signatures` needs the sigstore TUF repository, which is not reachable,
 * and no advisory-database package works without downloading its data: so this checks what
 * can be checked without a network, and README.md says what that covers and what it does not.
 *
 * Policy: every package is pinned to an exact version with a sha512 integrity (npm ci
 * refuses a tarball that does not match it); none comes from anywhere but the registry (no
 * git, file, link or plain-http sources); only the packages allowed in package.json's
 * `allowScripts` run install scripts; and the installed tree is the locked one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const REGISTRY = 'https://registry.npmjs.org/';
const SHA512 = /^sha512-[A-Za-z0-9+/]{86}==$/;
const EXACT_VERSION = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  /** A symlink to `resolved`, a folder (workspaces are). */
  link?: boolean;
  inBundle?: boolean;
  optional?: boolean;
  hasInstallScript?: boolean;
}

interface Lockfile {
  lockfileVersion: number;
  packages: Record<string, LockEntry>;
}

/** What breaks the policy, one line per package; empty when the lockfile keeps it. */
function lockfileFindings(lock: Lockfile, allowScripts: Record<string, boolean>, workspaces: readonly string[] = []): string[] {
  const findings: string[] = [];
  if (lock.lockfileVersion < 3) findings.push(`lockfileVersion ${lock.lockfileVersion}: regenerate with npm 9 or newer`);
  for (const [path, entry] of Object.entries(lock.packages)) {
    // The root, workspaces (links to folders of this repository) and files bundled inside
    // another package's tarball (covered by that tarball's integrity) have nothing to pin.
    if (!path.includes('node_modules/')) continue;
    if (entry.inBundle) continue;
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    if (entry.link) {
      // A workspace of this repository is linked, not installed; any other link is not ours.
      if (entry.resolved !== undefined && workspaces.includes(entry.resolved)) continue;
      findings.push(`${name}: linked to a folder instead of installed from the registry`);
      continue;
    }
    if (!EXACT_VERSION.test(entry.version ?? '')) findings.push(`${name}: not an exact registry version (${entry.version ?? 'none'})`);
    if (!SHA512.test(entry.integrity ?? '')) findings.push(`${name}@${entry.version}: no sha512 integrity (${entry.integrity ?? 'none'})`);
    if (entry.resolved !== undefined && !entry.resolved.startsWith(REGISTRY)) findings.push(`${name}@${entry.version}: resolved outside the registry (${entry.resolved})`);
    if (entry.hasInstallScript && allowScripts[name] !== true) findings.push(`${name}@${entry.version}: runs an install script but is not in package.json allowScripts`);
  }
  return findings;
}

/** Locked packages that are missing from node_modules or installed at another version. */
function installedFindings(lock: Lockfile): string[] {
  const findings: string[] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (!path.includes('node_modules/') || entry.link) continue;
    const manifest = join(ROOT, path, 'package.json');
    if (!existsSync(manifest)) {
      // Optional packages for other platforms (esbuild's, rolldown's, …) are not installed.
      if (!entry.optional) findings.push(`${path}: locked but not installed`);
      continue;
    }
    const installed = (JSON.parse(readFileSync(manifest, 'utf8')) as { version?: string }).version;
    if (installed !== entry.version) findings.push(`${path}: installed ${installed ?? '?'}, locked ${entry.version ?? '?'}`);
  }
  return findings;
}

const readJson = <T>(file: string): T => JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as T;

describe('the dependency check', () => {
  it('finds the lockfile within the policy and the installed tree equal to it', () => {
    const lock = readJson<Lockfile>('package-lock.json');
    const { allowScripts = {}, workspaces = [] } = readJson<{ allowScripts?: Record<string, boolean>; workspaces?: string[] }>('package.json');

    const findings = lockfileFindings(lock, allowScripts, workspaces);
    const installed = installedFindings(lock);

    expect(findings).toEqual([]);
    expect(installed).toEqual([]);
    const entries = Object.entries(lock.packages).filter(([path, e]) => path.includes('node_modules/') && !e.inBundle && !e.link);
    const scripts = entries.filter(([, e]) => e.hasInstallScript).map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 13));
    console.log(
      `dependencies: ${entries.length} locked packages, all sha512-pinned registry versions; ` +
        `install scripts only in ${scripts.join(', ') || 'none'} (allowed); installed tree equals the lockfile`,
    );
  });

  it('reports every kind of package that breaks the policy', () => {
    const good = { version: '1.2.3', integrity: `sha512-${'A'.repeat(86)}==` };
    const lock: Lockfile = {
      lockfileVersion: 3,
      packages: {
        '': {},
        web: {},
        'node_modules/fine': { ...good, resolved: `${REGISTRY}fine/-/fine-1.2.3.tgz` },
        'node_modules/fine/node_modules/bundled': { version: '0.0.1', inBundle: true },
        'node_modules/weak': { version: '1.0.0', integrity: 'sha1-2jmj7l5rSw0yVb/vlWAYkK/YBwk=' },
        'node_modules/unpinned': { version: '1.0.0' },
        'node_modules/from-git': { ...good, version: 'git+ssh://git@example.com/x.git#abc' },
        'node_modules/@scope/elsewhere': { ...good, resolved: 'http://mirror.example/elsewhere-1.2.3.tgz' },
        'node_modules/scripted': { ...good, hasInstallScript: true },
        'node_modules/allowed': { ...good, hasInstallScript: true },
        'node_modules/linked': { link: true, resolved: '../elsewhere' },
        'node_modules/@ours/web': { link: true, resolved: 'web' },
      },
    };

    const findings = lockfileFindings(lock, { allowed: true }, ['web']);

    expect(findings).toEqual([
      'weak@1.0.0: no sha512 integrity (sha1-2jmj7l5rSw0yVb/vlWAYkK/YBwk=)',
      'unpinned@1.0.0: no sha512 integrity (none)',
      'from-git: not an exact registry version (git+ssh://git@example.com/x.git#abc)',
      '@scope/elsewhere@1.2.3: resolved outside the registry (http://mirror.example/elsewhere-1.2.3.tgz)',
      'scripted@1.2.3: runs an install script but is not in package.json allowScripts',
      'linked: linked to a folder instead of installed from the registry',
    ]);
    expect(lockfileFindings({ ...lock, lockfileVersion: 2, packages: {} }, {})).toEqual(['lockfileVersion 2: regenerate with npm 9 or newer']);
  });
});
