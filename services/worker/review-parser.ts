/**
 * Reading a reviewer's ranking and critiques from what a model returned: a tool call's
 * input, or JSON somewhere in its text. Tolerant of what models do on a bad day (a code
 * fence, prose around the JSON, single quotes, labels written "Response A", "A)" or "**A**",
 * a repeated or unknown label, a missing critique); anything that still gives no ranking of
 * the answers is a problem stated in words the repair prompt can quote. Pure.
 */
import type { ReviewParsed } from '../shared/contracts/job.js';
import { jsonObjectsIn, parseLooseJson } from './loose-json.js';
import { cleanModelText } from './model-text.js';

export type ReadResult<T> = { ok: true; value: T } | { ok: false; problem: string };

/** The tool a reviewer calls with its review, and the JSON Schema of its input for these labels. */
export const REVIEW_TOOL_NAME = 'submit_review';

export function reviewToolSchema(labels: readonly string[]): Record<string, unknown> {
  return {
    type: 'object',
    properties: {
      ranking: {
        type: 'array',
        description: `Each of the labels ${labels.join(', ')} exactly once, best answer first.`,
        items: { type: 'string', enum: [...labels] },
        minItems: labels.length,
        maxItems: labels.length,
      },
      critiques: {
        type: 'object',
        description: 'One or two sentences on each answer, by label.',
        properties: Object.fromEntries(labels.map((l) => [l, { type: 'string' }])),
        required: [...labels],
      },
    },
    required: ['ranking', 'critiques'],
  };
}

/**
 * Reads a review for exactly `labels` from a tool call's input (when the model made one) or
 * from the text. The ranking must name every label but at most one, which then ranks last
 * (in a circle of three a reviewer ranks two answers, so one is enough to order them).
 */
export function readReview(output: { text: string; toolInput?: unknown }, labels: readonly string[]): ReadResult<ReviewParsed> {
  if (output.toolInput !== undefined) {
    const fromTool = reviewFrom(output.toolInput, labels);
    if (fromTool.ok) return fromTool;
    // A tool call with a bad input may still come with a usable review in its text.
    const fromText = reviewInText(output.text, labels);
    return fromText.ok ? fromText : fromTool;
  }
  return reviewInText(output.text, labels);
}

function reviewInText(raw: string, labels: readonly string[]): ReadResult<ReviewParsed> {
  const text = cleanModelText(raw);
  if (!text.trim()) return { ok: false, problem: 'the reply is empty' };
  const candidates = jsonObjectsIn(text);
  if (candidates.length === 0) return { ok: false, problem: 'it contains no JSON object' };
  let problem: string | undefined;
  for (const candidate of candidates) {
    const value = parseLooseJson(candidate);
    const result = value === undefined ? undefined : reviewFrom(value, labels);
    if (result?.ok) return result;
    // Report the problem of the first object that parsed, else that none parsed.
    problem ??= result?.problem;
  }
  return { ok: false, problem: problem ?? 'its JSON does not parse' };
}

function reviewFrom(value: unknown, labels: readonly string[]): ReadResult<ReviewParsed> {
  if (!isRecord(value)) return { ok: false, problem: 'the review is not a JSON object' };
  const field = (name: string): unknown => value[Object.keys(value).find((k) => k.toLowerCase() === name) ?? name];
  const rankingValue = field('ranking') ?? field('rank') ?? field('order');
  if (rankingValue === undefined) return { ok: false, problem: `it has no "ranking" (expected {"ranking": [${labels.map((l) => `"${l}"`).join(', ')}], "critiques": {…}})` };
  const find = labelFinder(labels);
  const ranking: string[] = [];
  const unknown: string[] = [];
  for (const entry of rankingEntries(rankingValue)) {
    const label = find(entry);
    if (!label) unknown.push(entry);
    else if (!ranking.includes(label)) ranking.push(label);
  }
  const missing = labels.filter((l) => !ranking.includes(l));
  if (missing.length > 1 || ranking.length === 0) {
    const named = unknown.length ? `; it names ${unknown.map((u) => JSON.stringify(u.slice(0, 40))).join(', ')}, which are not labels` : '';
    return { ok: false, problem: `its ranking leaves out ${missing.join(', ')}${named}: rank each of ${labels.join(', ')} exactly once` };
  }
  ranking.push(...missing);

  const critiques: Record<string, string> = {};
  for (const [rawLabel, critique] of critiqueEntries(field('critiques') ?? field('critique') ?? field('comments'))) {
    const label = find(rawLabel);
    const text = cleanModelText(critique).trim();
    if (label && text && !critiques[label]) critiques[label] = text;
  }
  return { ok: true, value: { kind: 'review', ranking, critiques } };
}

/** A ranking as strings: an array (of labels or {label} objects) or a string like "B > A" / "B, A". */
function rankingEntries(value: unknown): string[] {
  if (Array.isArray(value)) {
    return value.map((v) => (isRecord(v) ? String(v.label ?? v.answer ?? v.id ?? '') : String(v)));
  }
  if (typeof value === 'string') return value.split(/\s*(?:>|,|;|\bthen\b|\n)\s*/).filter(Boolean);
  return [];
}

/** Critiques as [label, text]: an object by label, or an array of {label, critique|text}. */
function critiqueEntries(value: unknown): [string, string][] {
  if (Array.isArray(value)) {
    return value.flatMap((v) => (isRecord(v) ? [[String(v.label ?? v.answer ?? ''), textOf(v.critique ?? v.text ?? v.comment)] as [string, string]] : []));
  }
  if (isRecord(value)) return Object.entries(value).map(([k, v]) => [k, textOf(v)]);
  return [];
}

const textOf = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v));

/** Maps what a model wrote ("A", "a", "Answer A", "Response A", "A)", "**A**", "Label: A") to one of the labels. */
export function labelFinder(labels: readonly string[]): (raw: string) => string | undefined {
  const byKey = new Map(labels.map((l) => [l.toLowerCase(), l]));
  return (raw) => {
    const plain = raw
      .replace(/[*_`"'()[\]{}<>#]/g, ' ')
      .replace(/^\s*\d+\s*[.):-]\s+/, '') // "1. A" in a numbered ranking
      .replace(/[.):,;-]+\s*$/, '')
      .trim()
      .replace(/^(answer|response|label|option|candidate|advisor)\s*[:#-]?\s*/i, '')
      .trim()
      .toLowerCase();
    return byKey.get(plain);
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
