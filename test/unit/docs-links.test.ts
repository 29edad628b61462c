import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** Every Markdown file of the repository: tracked, or new and not ignored; never node_modules. */
function markdownFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '--', '*.md'], { cwd: REPO, encoding: 'utf8' });
  return [...new Set(out.split('\n').filter((f) => f && !f.split('/').includes('node_modules') && existsSync(join(REPO, f))))].sort();
}

/** The lines outside fenced code blocks, as written and without code spans (links in code are examples, not links). */
function proseLines(markdown: string): { raw: string; line: string; number: number }[] {
  const lines: { raw: string; line: string; number: number }[] = [];
  let fence: string | undefined;
  markdown.split('\n').forEach((line, i) => {
    const marker = /^\s{0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence) {
      if (marker && marker[0] === fence[0] && marker.length >= fence.length) fence = undefined;
      return;
    }
    if (marker) {
      fence = marker;
      return;
    }
    lines.push({ raw: line, line: line.replace(/(`+)[^`]*?\1/g, ''), number: i + 1 });
  });
  return lines;
}

/** Inline links and images `[text](target)` and reference definitions `[ref]: target`. */
function linksOf(markdown: string): { target: string; line: number }[] {
  const links: { target: string; line: number }[] = [];
  for (const { line, number } of proseLines(markdown)) {
    for (const m of line.matchAll(/!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^\s)>]*)>?(?:\s+"[^"]*")?\s*\)/g)) links.push({ target: m[1]!, line: number });
    const definition = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(line);
    if (definition) links.push({ target: definition[1]!, line: number });
  }
  return links;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const { raw } of proseLines(markdown)) {
    const heading = /^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(raw)?.[1];
    if (heading === undefined) continue;
    const text = heading.replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/[*_`]/g, '');
    const slug = text.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

/** Why `target`, linked from `file`, leads nowhere (undefined when it leads somewhere). */
function deadLink(file: string, target: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) return undefined; // another site
  const [pathPart = '', anchor] = target.split('#', 2);
  const path = decodeURIComponent(pathPart);
  const resolved = path === '' ? join(REPO, file) : path.startsWith('/') ? join(REPO, path) : resolve(REPO, dirname(file), path);
  if (relative(REPO, resolved).startsWith('..')) return 'points outside the repository';
  if (!existsSync(resolved)) return 'no such file';
  if (anchor === undefined || anchor === '') return undefined;
  if (statSync(resolved).isDirectory() || !resolved.endsWith('.md')) return undefined;
  return anchorsOf(readFileSync(resolved, 'utf8')).has(decodeURIComponent(anchor).toLowerCase()) ? undefined : `no heading for #${anchor}`;
}

describe('the Markdown files', () => {
  const files = markdownFiles();

  it('include the README and the documentation', () => {
    expect(files).toEqual(expect.arrayContaining(['README.md', 'docs/architecture.md', 'docs/websocket.md', 'docs/deploy.md']));
  });

  it('link only to files and headings that exist in the repository', () => {
    const dead: string[] = [];
    let checked = 0;
    for (const file of files) {
      for (const { target, line } of linksOf(readFileSync(join(REPO, file), 'utf8'))) {
        checked++;
        const why = deadLink(file, target);
        if (why) dead.push(`${file}:${line} → ${target}: ${why}`);
      }
    }
    expect(dead).toEqual([]);
    expect(checked).toBeGreaterThan(10);
  });

  it('never point at the team’s notes outside the repository', () => {
    for (const file of files) expect(readFileSync(join(REPO, file), 'utf8'), file).not.toMatch(/\.\.\/shared\/|reference-architecture\.md|DESIGN\.md/);
  });
});

describe('the link checker', () => {
  it('finds dead files and anchors, and passes live ones, code and other sites', () => {
    const links = linksOf(
      [
        '[ok](README.md) [gone](docs/nothing.md) [anchor](docs/architecture.md#guarantees) [bad](docs/architecture.md#nope)',
        '`[in code](nowhere.md)` [site](https://example.com/x.md) [self](#the-markdown-files)',
        '```',
        '[fenced](nowhere.md)',
        '```',
        '[ref]: docs/missing.md',
      ].join('\n'),
    );
    expect(links.map((l) => l.target)).toEqual([
      'README.md',
      'docs/nothing.md',
      'docs/architecture.md#guarantees',
      'docs/architecture.md#nope',
      'https://example.com/x.md',
      '#the-markdown-files',
      'docs/missing.md',
    ]);
    expect(links.map((l) => deadLink('README.md', l.target))).toEqual([
      undefined,
      'no such file',
      undefined,
      'no heading for #nope',
      undefined,
      'no heading for #the-markdown-files',
      'no such file',
    ]);
    expect(deadLink('docs/websocket.md', '../README.md#the-terminal-client-npm-run-ask')).toBeUndefined();
    expect(deadLink('docs/websocket.md', '../../outside.md')).toBe('points outside the repository');
  });

  it('numbers repeated headings as GitHub does', () => {
    expect([...anchorsOf('# A b\n## A b\n### `npm run ask`: the *client*\n')]).toEqual(['a-b', 'a-b-1', 'npm-run-ask-the-client']);
  });
});
