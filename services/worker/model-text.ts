/**
 * Model text as the circle keeps it: control characters (terminal escapes, NULs, bells)
 * removed, line endings made `\n`, lone surrogates replaced, so nothing a model writes can
 * drive a terminal or break a parser downstream. Pure.
 */

// C0 controls but tab and newline, DEL, and C1 controls (which include the 8-bit CSI).
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
// An ANSI escape sequence as a whole, so its parameters do not stay behind as text.
const ANSI = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?/g;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** The text with control characters removed and `\r\n` / `\r` as `\n`. */
export function cleanModelText(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD').replace(/\r\n?/g, '\n').replace(ANSI, '').replace(CONTROLS, '');
}

/** At most `max` characters, cut on a line or word boundary, with a note of how much was left out. */
export function capText(text: string, max: number): string {
  if (text.length <= max) return text;
  const head = text.slice(0, max);
  const cut = Math.max(head.lastIndexOf('\n'), head.lastIndexOf(' '));
  const kept = cut > max * 0.8 ? head.slice(0, cut) : head;
  return `${kept.trimEnd()}\n[… ${text.length - kept.length} more characters not shown]`;
}
