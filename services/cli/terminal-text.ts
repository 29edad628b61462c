/**
 * Text for a terminal. Model and user text can carry escape sequences that recolour,
 * retitle, move the cursor or rewrite what is on screen (and, in some terminals, more), so
 * every such string passes through `clean` before it is printed; the only escapes this CLI
 * writes are its own SGR styles, and only when colour is on.
 */

/** Whole escape sequences (CSI, OSC, DCS/SOS/PM/APC strings, two-character escapes), so no fragment is left behind. */
const ESCAPE_SEQUENCES = /\x1b(?:\[[0-?]*[ -/]*[@-~]?|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[PX^_][^\x1b]*(?:\x1b\\)?|[ -~]?)|\x9b[0-?]*[ -/]*[@-~]?|[\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?/g;
/** Every C0 control but newline and tab, DEL, C1 controls, and the bidirectional overrides that reorder what a line seems to say. */
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every escape sequence and control character removed (newlines and tabs stay). */
export function clean(text: string): string {
  return text.replace(/\r\n?/g, '\n').replace(ESCAPE_SEQUENCES, '').replace(CONTROLS, '');
}

/** A copy of a JSON value (an API answer, a WebSocket message) with every string `clean`. */
export function cleanDeep<T>(value: T): T {
  if (typeof value === 'string') return clean(value) as T;
  if (Array.isArray(value)) return value.map(cleanDeep) as T;
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [clean(k), cleanDeep(v)])) as T;
  return value;
}

/** `text` on one line: cleaned, with runs of whitespace (newlines included) as one space. */
export function oneLine(text: string): string {
  return clean(text).replace(/\s+/g, ' ').trim();
}

export interface Style {
  readonly color: boolean;
  bold(text: string): string;
  dim(text: string): string;
  italic(text: string): string;
  underline(text: string): string;
  strike(text: string): string;
  code(text: string): string;
}

const sgr = (on: string, off: string) => (text: string) => (text ? `\x1b[${on}m${text}\x1b[${off}m` : text);
const plain = (text: string) => text;

/** ANSI styles when `color`, otherwise plain text. */
export function styleFor(color: boolean): Style {
  if (!color) return { color, bold: plain, dim: plain, italic: plain, underline: plain, strike: plain, code: plain };
  return { color, bold: sgr('1', '22'), dim: sgr('2', '22'), italic: sgr('3', '23'), underline: sgr('4', '24'), strike: sgr('9', '29'), code: sgr('36', '39') };
}

/** Colour only on a terminal, and never when NO_COLOR is set (no-color.org) or TERM is dumb. */
export function wantsColor(stream: { isTTY?: boolean }, env: Record<string, string | undefined>): boolean {
  return stream.isTTY === true && !env.NO_COLOR && env.TERM !== 'dumb';
}

/** How wide `text` shows, without this CLI's styles. */
export function visibleLength(text: string): number {
  return [...text.replace(/\x1b\[\d+m/g, '')].length;
}
