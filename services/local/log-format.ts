/**
 * Relaying child output to a terminal: one coloured prefix per process, pino JSON lines
 * turned into `time LEVEL message key=value …`, other lines passed through.
 */

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** pino fields already shown, or noise in a terminal. */
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'service', 'name', 'v']);
const COLOURS = [36, 33, 35, 32, 34, 96, 93, 95, 92, 94];

export interface LineFormatter {
  format(source: string, line: string): string;
}

/** A formatter; `colour` adds ANSI colours (use when writing to a TTY). */
export function createLineFormatter(opts: { colour: boolean; width?: number }): LineFormatter {
  const colourOf = new Map<string, number>();
  const width = opts.width ?? 10;
  const paint = (code: number, text: string): string => (opts.colour ? `\x1b[${code}m${text}\x1b[0m` : text);
  return {
    format(source, line) {
      if (!colourOf.has(source)) colourOf.set(source, COLOURS[colourOf.size % COLOURS.length] ?? 36);
      const prefix = paint(colourOf.get(source) ?? 36, source.padEnd(width).slice(0, width));
      return `${prefix} │ ${formatPinoLine(line, paint) ?? line}`;
    },
  };
}

/** A pino JSON line made readable; undefined if it is not one. */
export function formatPinoLine(line: string, paint: (code: number, text: string) => string = (_c, t) => t): string | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return undefined;
  let entry: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(trimmed);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
    entry = parsed as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const levelNum = typeof entry.level === 'number' ? entry.level : 30;
  const level = LEVELS[levelNum] ?? String(entry.level ?? '');
  const levelText = levelNum >= 50 ? paint(31, level) : levelNum >= 40 ? paint(33, level) : paint(2, level);
  const time = formatTime(entry.time);
  const fields = Object.entries(entry)
    .filter(([k]) => !HIDDEN.has(k))
    .map(([k, v]) => `${k}=${k === 'err' || k === 'error' ? formatError(v) : typeof v === 'string' ? quoteIfNeeded(v) : JSON.stringify(v)}`)
    .join(' ');
  const msg = typeof entry.msg === 'string' ? entry.msg : '';
  return [time, levelText.padEnd(5), msg, fields].filter(Boolean).join(' ');
}

function formatTime(time: unknown): string {
  const date = typeof time === 'string' || typeof time === 'number' ? new Date(time) : undefined;
  return date && !Number.isNaN(date.getTime()) ? date.toISOString().slice(11, 23) : '';
}

function quoteIfNeeded(v: string): string {
  return /[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v;
}

/** pino's serialised error as one readable phrase: `Name: message (at our-file.ts:12:3)`, no full stack. */
function formatError(v: unknown): string {
  if (!v || typeof v !== 'object') return JSON.stringify(v);
  const e = v as { type?: unknown; name?: unknown; message?: unknown; stack?: unknown };
  const name = typeof e.name === 'string' ? e.name : typeof e.type === 'string' ? e.type : 'Error';
  const message = typeof e.message === 'string' ? e.message : '';
  const frame = typeof e.stack === 'string' ? e.stack.split('\n').find((l) => /^\s+at /.test(l) && !l.includes('node_modules') && !l.includes('node:')) : undefined;
  const where = frame ? ` (${frame.trim().replace(/^at /, '')})` : '';
  return JSON.stringify(`${name}: ${message}${where}`);
}
