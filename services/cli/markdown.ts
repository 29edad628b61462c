/**
 * Markdown for a terminal: headings, emphasis, lists, quotes, code, rules, tables and links
 * shown as text (`label (url)`), without the `#`, `*` and backticks. Line by line, so the
 * chair's advice can be rendered as it streams in; `renderMarkdown` is the same for a
 * whole text. Every line is cleaned of escape sequences and control characters first.
 */
import { clean, visibleLength, type Style } from './terminal-text.js';

const RULE_WIDTH = 40;
const PUNCTUATION = /[!-/:-@[-`{-~]/;

/** Renders Markdown that arrives in pieces; each call returns the lines it completed. */
export class MarkdownStream {
  private pending = '';
  private fence?: string;
  /** The last line was blank (true at the start, so leading blank lines are dropped). */
  private blank = true;

  constructor(
    private readonly style: Style,
    /** Put before every line (e.g. to indent an advisor's answer). */
    private readonly indent = '',
  ) {}

  /** Adds text; returns the rendered lines it completed (each ending with a newline). */
  push(text: string): string {
    this.pending += text;
    const lines = this.pending.split('\n');
    this.pending = lines.pop() ?? '';
    return lines.map((line) => this.line(line)).join('');
  }

  /** Renders what is left (a last line without a newline). */
  end(): string {
    const rest = this.pending;
    this.pending = '';
    return rest ? this.line(rest) : '';
  }

  private line(raw: string): string {
    const text = clean(raw).replace(/\t/g, '    ').replace(/\s+$/, '');
    const s = this.style;
    const fence = /^\s{0,3}(`{3,}|~{3,})/.exec(text)?.[1];
    if (this.fence !== undefined) {
      if (fence && fence[0] === this.fence[0] && fence.length >= this.fence.length && /^\s*[`~]+$/.test(text)) {
        this.fence = undefined;
        return '';
      }
      return this.out(`    ${s.code(text)}`);
    }
    if (fence) {
      this.fence = fence;
      return '';
    }
    if (text.trim() === '') {
      // Runs of blank lines show as one.
      if (this.blank) return '';
      this.blank = true;
      return '\n';
    }
    this.blank = false;

    const heading = /^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$/.exec(text) ?? /^\s{0,3}(#{1,6})$/.exec(text);
    if (heading) {
      const level = heading[1]!.length;
      const title = inline(heading[2] ?? '', s);
      if (s.color) return this.out(level <= 2 ? s.bold(s.underline(title)) : s.bold(title));
      return level <= 2 ? this.out(title) + this.out((level === 1 ? '═' : '─').repeat(Math.max(3, visibleLength(title)))) : this.out(title);
    }
    if (/^\s{0,3}([-*_])(?:\s*\1){2,}\s*$/.test(text)) return this.out(s.dim('─'.repeat(RULE_WIDTH)));

    const quote = /^\s{0,3}>\s?(.*)$/.exec(text);
    if (quote) return this.out(`${s.dim('│')} ${inline(quote[1]!.replace(/^(\s*>\s?)+/, ''), s)}`);

    const bullet = /^(\s*)[-*+]\s+(.*)$/.exec(text);
    if (bullet) {
      const task = /^\[([ xX])\]\s+(.*)$/.exec(bullet[2]!);
      const marker = task ? (task[1] === ' ' ? '☐' : '☑') : '•';
      return this.out(`${nesting(bullet[1]!)}${marker} ${inline(task ? task[2]! : bullet[2]!, s)}`);
    }
    const numbered = /^(\s*)(\d{1,9})[.)]\s+(.*)$/.exec(text);
    if (numbered) return this.out(`${nesting(numbered[1]!)}${numbered[2]}. ${inline(numbered[3]!, s)}`);

    if (/^\s*\|.*\|\s*$/.test(text)) {
      if (/^\s*\|(?:\s*:?-+:?\s*\|)+\s*$/.test(text)) return '';
      const cells = splitCells(text.trim().slice(1, -1));
      return this.out(cells.map((c) => inline(c.trim(), s)).join(s.dim(' │ ')));
    }
    return this.out(inline(text.trimStart(), s));
  }

  private out(text: string): string {
    return `${this.indent}${text}\n`;
  }
}

/** The whole of `markdown`, rendered; ends with a newline unless empty. */
export function renderMarkdown(markdown: string, style: Style, indent = ''): string {
  const stream = new MarkdownStream(style, indent);
  return (stream.push(markdown) + stream.end()).replace(/\n+$/, '\n');
}

/** Two spaces per level of a nested list item (two to four spaces of source indentation). */
const nesting = (spaces: string) => '  '.repeat(1 + Math.floor(spaces.length / 2));

function splitCells(row: string): string[] {
  const cells: string[] = [];
  let cell = '';
  for (let i = 0; i < row.length; i++) {
    if (row[i] === '\\' && row[i + 1] === '|') {
      cell += '|';
      i++;
    } else if (row[i] === '|') {
      cells.push(cell);
      cell = '';
    } else cell += row[i];
  }
  cells.push(cell);
  return cells;
}

/** Inline Markdown of one line: code spans, escapes, links, images, autolinks, emphasis. */
export function inline(src: string, s: Style): string {
  let out = '';
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === '\\' && i + 1 < src.length && PUNCTUATION.test(src[i + 1]!)) {
      out += src[i + 1];
      i += 2;
      continue;
    }
    if (c === '`') {
      const run = /^`+/.exec(src.slice(i))![0];
      const close = src.indexOf(run, i + run.length);
      if (close > i && src[close + run.length] !== '`') {
        out += s.code(src.slice(i + run.length, close).replace(/^ (.*) $/, '$1'));
        i = close + run.length;
      } else {
        out += run;
        i += run.length;
      }
      continue;
    }
    const link = c === '[' || (c === '!' && src[i + 1] === '[') ? parseLink(src, c === '!' ? i + 1 : i) : undefined;
    if (link) {
      const label = inline(link.label, s);
      const shown = link.url && link.url !== link.label ? `${label} ${s.dim(`(${link.url})`)}` : label || link.url;
      out += c === '!' ? `[${shown || 'image'}]` : shown;
      i = link.end;
      continue;
    }
    const autolink = c === '<' ? /^<((?:https?|mailto|ftp):[^\s<>]+)>/i.exec(src.slice(i)) : null;
    if (autolink) {
      out += autolink[1];
      i += autolink[0].length;
      continue;
    }
    if (c === '*' || c === '_' || c === '~') {
      const run = new RegExp(`^\\${c}+`).exec(src.slice(i))![0];
      const n = Math.min(run.length, 3);
      const close = emphasisEnd(src, i, c, n);
      if (close !== undefined && (c !== '~' || n === 2)) {
        const inner = inline(src.slice(i + n, close), s);
        out += c === '~' ? s.strike(inner) : n === 1 ? s.italic(inner) : n === 2 ? s.bold(inner) : s.bold(s.italic(inner));
        i = close + n;
        continue;
      }
      out += run;
      i += run.length;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

/** Where the emphasis opened at `open` by `n` × `ch` closes, if it does on this line. */
function emphasisEnd(src: string, open: number, ch: string, n: number): number | undefined {
  const after = src[open + n];
  if (after === undefined || /\s/.test(after)) return undefined;
  // Intraword underscores (snake_case) are not emphasis.
  if (ch === '_' && open > 0 && /[\p{L}\p{N}]/u.test(src[open - 1]!)) return undefined;
  for (let j = open + n; j < src.length; ) {
    if (src[j] === '\\') {
      j += 2;
      continue;
    }
    if (src[j] === '`') {
      const run = /^`+/.exec(src.slice(j))![0];
      const close = src.indexOf(run, j + run.length);
      j = close > j ? close + run.length : j + run.length;
      continue;
    }
    if (src[j] !== ch) {
      j++;
      continue;
    }
    let r = 0;
    while (src[j + r] === ch) r++;
    const closes = r === n && !/\s/.test(src[j - 1]!) && (ch !== '_' || !/[\p{L}\p{N}]/u.test(src[j + r] ?? ''));
    if (closes && j > open + n) return j;
    j += r;
  }
  return undefined;
}

/** `[label](url "title")` or `[label][ref]` starting at `open` (the `[`). */
function parseLink(src: string, open: number): { label: string; url: string; end: number } | undefined {
  let depth = 0;
  let j = open;
  for (; j < src.length; j++) {
    if (src[j] === '\\') j++;
    else if (src[j] === '[') depth++;
    else if (src[j] === ']' && --depth === 0) break;
  }
  if (j >= src.length) return undefined;
  const label = src.slice(open + 1, j);
  const target = /^\(\s*<?([^\s()<>]*(?:\([^\s()]*\)[^\s()<>]*)*)>?(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/.exec(src.slice(j + 1));
  if (target) return { label, url: target[1]!, end: j + 1 + target[0].length };
  const reference = /^\[[^\]]*\]/.exec(src.slice(j + 1));
  if (reference) return { label, url: '', end: j + 1 + reference[0].length };
  return undefined;
}
