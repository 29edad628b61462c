import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MarkdownStream, renderMarkdown } from '../../services/cli/markdown.js';
import { clean, styleFor, wantsColor } from '../../services/cli/terminal-text.js';

const plain = styleFor(false);
const color = styleFor(true);
/** The only escapes the CLI writes: its own SGR styles. */
const OWN_STYLES = /\x1b\[(?:1|2|3|4|9|22|23|24|29|36|39)m/g;

const fixture = (path: string) => JSON.parse(readFileSync(fileURLToPath(new URL(`../../fixtures/${path}`, import.meta.url)), 'utf8')) as unknown;

/** Every model reply in the recorded conversations, joined from its streamed tokens. */
function recordedReplies(): string[] {
  const dir = fileURLToPath(new URL('../../fixtures/recorded/', import.meta.url));
  return readdirSync(dir).flatMap((file) => {
    const { replies } = fixture(`recorded/${file}`) as { replies: Record<string, string[] | string> };
    return Object.values(replies).map((r) => (Array.isArray(r) ? r.join('') : r));
  });
}

describe('renderMarkdown', () => {
  it('shows headings, emphasis, lists, quotes, code and links as text, without their markup', () => {
    const markdown = [
      '## Recommendation',
      '',
      'Do **not** quit *yet*; run `npm ci` first. See [the guide](https://example.com/guide) or <https://example.com>.',
      '',
      '- first',
      '  - nested with __bold__',
      '1. one',
      '2) two',
      '- [x] done',
      '> a quote with **weight**',
      '',
      '```ts',
      'const x = 2 ** 3; // # not a heading',
      '```',
      '---',
      '| option | cost |',
      '|---|:-:|',
      '| **stay** | low |',
      'snake_case_name and 2 * 3 * 4 stay as they are, \\*escaped\\* too.',
    ].join('\n');

    expect(renderMarkdown(markdown, plain)).toBe(
      [
        'Recommendation',
        '──────────────',
        '',
        'Do not quit yet; run npm ci first. See the guide (https://example.com/guide) or https://example.com.',
        '',
        '  • first',
        '    • nested with bold',
        '  1. one',
        '  2. two',
        '  ☑ done',
        '│ a quote with weight',
        '',
        '    const x = 2 ** 3; // # not a heading',
        '─'.repeat(40),
        'option │ cost',
        'stay │ low',
        'snake_case_name and 2 * 3 * 4 stay as they are, *escaped* too.',
        '',
      ].join('\n'),
    );
  });

  it('styles with colour: bold headings and emphasis, dim link targets', () => {
    const out = renderMarkdown('# Title\n**bold** and *it* and [x](http://a)', color);
    expect(out).toBe('\x1b[1m\x1b[4mTitle\x1b[24m\x1b[22m\n\x1b[1mbold\x1b[22m and \x1b[3mit\x1b[23m and x \x1b[2m(http://a)\x1b[22m\n');
  });

  it('indents every line of an answer and keeps one blank line between paragraphs', () => {
    expect(renderMarkdown('\n\nFirst.\n\n\n\nSecond.\n\n', plain, '    ')).toBe('    First.\n\n    Second.\n');
  });

  it('leaves no heading marks or bold markers in any recorded reply or the chair’s text bank', () => {
    const chair = fixture('advisors/chair.json') as Record<string, unknown>;
    const bank = Object.values(chair).flatMap((v) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []));
    const texts = [...recordedReplies(), ...bank];
    expect(texts.length).toBeGreaterThan(10);
    for (const text of texts) {
      const out = renderMarkdown(text, plain);
      expect(out, text.slice(0, 80)).not.toMatch(/^\s*#{1,6}\s/m);
      if (!/\*\*[^*\n]*$/m.test(text)) expect(out, text.slice(0, 80)).not.toContain('**');
    }
  });

  it('renders the same, line for line, however the text is cut into streamed pieces', () => {
    const texts = recordedReplies();
    fc.assert(
      fc.property(fc.constantFrom(...texts), fc.array(fc.nat(), { maxLength: 30 }), fc.boolean(), (text, cuts, withColor) => {
        const style = styleFor(withColor);
        const stream = new MarkdownStream(style, '  ');
        const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        let out = '';
        let at = 0;
        for (const p of [...points, text.length]) {
          out += stream.push(text.slice(at, p));
          at = p;
        }
        out += stream.end();
        expect(out.replace(/\n+$/, '\n')).toBe(renderMarkdown(text, style, '  '));
      }),
      { numRuns: 300 },
    );
  });

  it('never lets an escape sequence or control character through, whatever the text', () => {
    const hostile = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.constantFrom('\x1b[2J', '\x1b]0;owned\x07', '\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\', '\x9b31m', '\r', '\x1bP+q\x1b\\', '\u202e', '\x07', '\x1b[31m'),
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(hostile, fc.constantFrom('**', '# ', '`', '[a](b)', '\n', '- ', '```\n')), { maxLength: 20 }), fc.boolean(), (parts, withColor) => {
        const out = renderMarkdown(parts.join(''), styleFor(withColor)).replace(OWN_STYLES, '');
        expect(out).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/);
      }),
      { numRuns: 500 },
    );
  });
});

describe('clean', () => {
  it('removes whole escape sequences, not only their escape character', () => {
    // A lone CR would let text overwrite its own line: it becomes a newline.
    expect(clean('a\x1b[31mred\x1b[0m b\x1b]0;title\x07c \x9b2Jd\re\tf\ng')).toBe('ared bc d\ne\tf\ng');
  });
});

describe('wantsColor', () => {
  it('colours a terminal unless NO_COLOR is set or TERM is dumb, and never a pipe', () => {
    expect(wantsColor({ isTTY: true }, {})).toBe(true);
    expect(wantsColor({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(wantsColor({ isTTY: true }, { NO_COLOR: '' })).toBe(true);
    expect(wantsColor({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
    expect(wantsColor({ isTTY: false }, {})).toBe(false);
    expect(wantsColor({}, {})).toBe(false);
  });
});
