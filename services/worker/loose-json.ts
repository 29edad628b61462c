/**
 * Finding and reading JSON the way models write it: inside prose or a code fence, with
 * single quotes, smart quotes, bare keys or trailing commas. Pure.
 */

/** Every balanced `{…}` in the text, outermost first, in order; strings and escapes respected. */
export function jsonObjectsIn(text: string): string[] {
  const found: string[] = [];
  for (let start = text.indexOf('{'); start !== -1; start = text.indexOf('{', start + 1)) {
    let depth = 0;
    let quote: string | undefined;
    for (let i = start; i < text.length; i++) {
      const ch = text[i];
      if (quote) {
        if (ch === '\\') i++;
        else if (ch === quote) quote = undefined;
      } else if (ch === '"' || ch === "'") quote = ch;
      else if (ch === '{') depth++;
      else if (ch === '}' && --depth === 0) {
        found.push(text.slice(start, i + 1));
        start = i; // continue after this object
        break;
      }
    }
  }
  return found;
}

/** JSON.parse, then the same text with the usual model slips mended; undefined when neither parses. */
export function parseLooseJson(candidate: string): unknown {
  for (const text of [candidate, mend(candidate)]) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      // try the next form
    }
  }
  return undefined;
}

/**
 * Rewrites near-JSON as JSON: smart quotes to straight ones, single-quoted strings to
 * double-quoted ones, bare object keys quoted, trailing commas removed.
 */
function mend(text: string): string {
  const straight = text.replace(/[\u201c\u201d]/g, '"').replace(/[\u2018\u2019]/g, "'");
  let out = '';
  for (let i = 0; i < straight.length; i++) {
    const ch = straight[i] as string;
    if (ch === '"' || ch === "'") {
      // Copy a string, re-quoted with double quotes.
      let body = '';
      let j = i + 1;
      for (; j < straight.length && straight[j] !== ch; j++) {
        if (straight[j] === '\\' && j + 1 < straight.length) {
          body += straight[j + 1] === "'" ? "'" : `\\${straight[j + 1]}`;
          j++;
        } else body += straight[j] === '"' ? '\\"' : straight[j];
      }
      out += `"${body}"`;
      i = j;
    } else out += ch;
  }
  return out.replace(/([{,]\s*)([A-Za-z_][A-Za-z0-9_]*)(\s*:)/g, '$1"$2"$3').replace(/,(\s*[}\]])/g, '$1');
}
