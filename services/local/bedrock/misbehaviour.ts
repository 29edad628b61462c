/**
 * Models on a bad day: the corpus of real-world misbehaviour in fixtures/misbehaviour and
 * how the stand-in turns a well-behaved answer into each case (JSON in a fence, odd labels,
 * headings in other words, a cut at maxTokens, a guardrail's block, …). Cases are armed per
 * call through the control API (`{"type": "misbehave", "case": "…"}`) or drawn at random
 * on a bad day (`POST /config {"badDay": {"rate": 0.3}}`). Deterministic: draws are hashes.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { Composition } from './simulated-advisors.js';
import type { ChairSections } from './simulated-chair.js';
import type { StepKind } from './standin.types.js';
import { hash01 } from './text-kit.js';

/** fixtures/misbehaviour/cases.json in this repository. */
export const DEFAULT_CASES_FILE = fileURLToPath(new URL('../../../fixtures/misbehaviour/cases.json', import.meta.url));

const kind = z.enum(['advise', 'review', 'synthesize']);
const headings = z.object({ recommendation: z.string(), agreement: z.string(), dissent: z.string(), confidence: z.string() }).partial();
const replySchema = z.discriminatedUnion('form', [
  z.object({ form: z.literal('text'), template: z.string() }),
  z.object({
    form: z.literal('review'),
    label: z.string().default('{label}'),
    ranking: z.enum(['array', 'string']).default('array'),
    dropCritique: z.boolean().default(false),
    duplicate: z.boolean().default(false),
    unknown: z.string().optional(),
  }),
  z.object({
    form: z.literal('synthesis'),
    style: z.enum(['markdown', 'colon', 'bold', 'numbered']),
    headings: headings.default({}),
    confidence: z.string().nullable().optional(),
  }),
  z.object({ form: z.literal('cut'), keep: z.number().gt(0).lt(1) }),
  z.object({ form: z.literal('blocked'), stop: z.enum(['guardrail_intervened', 'content_filtered']) }),
  z.object({ form: z.literal('size'), bytes: z.number().int().min(1).max(8_000_000) }),
  z.object({ form: z.literal('tool-input'), template: z.string() }),
]);
const expectation = z.object({
  step: z.string().optional(),
  outcome: z.enum(['usable', 'repaired', 'step-failed', 'unsynthesized']),
  notes: z.array(z.string()),
  truncated: z.boolean().optional(),
  confidence: z.enum(['high', 'medium', 'low', 'unstated']).optional(),
  rankedLast: z.boolean().optional(),
});
const caseSchema = z.object({
  id: z.string().regex(/^[a-z0-9-]+$/),
  kinds: z.array(kind).min(1),
  description: z.string().min(1),
  reply: replySchema,
  expect: z.partialRecord(kind, expectation),
  alsoToolUse: z.boolean().optional(),
});
const fileSchema = z.object({ cases: z.array(caseSchema).min(30) });

export type Misbehaviour = z.infer<typeof caseSchema>;

/** Reads the corpus; a malformed file fails loudly, and every kind a case names needs an expectation. */
export function loadMisbehaviours(file: string = DEFAULT_CASES_FILE): Misbehaviour[] {
  const parsed = fileSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(`invalid misbehaviour corpus ${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const ids = new Set<string>();
  for (const c of parsed.data.cases) {
    if (ids.has(c.id)) throw new Error(`misbehaviour corpus ${file}: case ${c.id} appears twice`);
    ids.add(c.id);
    for (const k of c.kinds) if (!c.expect[k]) throw new Error(`misbehaviour corpus ${file}: case ${c.id} has no expectation for ${k}`);
  }
  return parsed.data.cases;
}

/** What the misbehaving model sends: text, a tool call's input, and the stop reason. */
export interface Misbehaved {
  text: string;
  toolInput?: string;
  stopReason: 'end_turn' | 'tool_use' | 'max_tokens' | 'guardrail_intervened' | 'content_filtered';
  /** The reply is exempt from maxTokens (it exists to exceed limits). */
  unlimited?: boolean;
}

export interface CallShape {
  /** The request offered a tool (a review by tool use). */
  tool: boolean;
  /** The request carried a guardrail. */
  guardrail: boolean;
}

/** A guardrail's blocked message, as Bedrock returns it in place of the answer. */
export const BLOCKED_MESSAGE = 'Sorry, the model cannot answer this question.';

/** The well-behaved composition turned into case `c`'s misbehaviour. */
export function misbehave(c: Misbehaviour, composed: Composition, shape: CallShape): Misbehaved {
  const reply = c.reply;
  switch (reply.form) {
    case 'text':
      return { text: render(reply.template, composed), stopReason: 'end_turn' };
    case 'tool-input': {
      const input = render(reply.template, composed);
      return shape.tool ? { text: '', toolInput: input, stopReason: 'tool_use' } : { text: input, stopReason: 'end_turn' };
    }
    case 'review': {
      if (composed.kind !== 'review') return wellBehaved(composed, shape);
      const json = JSON.stringify(oddReview(composed.review, reply));
      return shape.tool ? { text: '', toolInput: json, stopReason: 'tool_use' } : { text: json, stopReason: 'end_turn' };
    }
    case 'synthesis':
      if (composed.kind !== 'synthesize') return wellBehaved(composed, shape);
      return { text: oddSynthesis(composed.sections, reply), stopReason: 'end_turn' };
    case 'cut': {
      const whole = wellBehaved(composed, shape);
      const cut = (s: string): string => s.slice(0, Math.max(1, Math.floor(s.length * reply.keep)));
      return whole.toolInput !== undefined
        ? { ...whole, toolInput: cut(whole.toolInput), stopReason: 'max_tokens' }
        : { ...whole, text: cut(whole.text), stopReason: 'max_tokens' };
    }
    case 'blocked':
      // Without a guardrail on the call, only the model's own filter can stop it.
      return { text: BLOCKED_MESSAGE, stopReason: reply.stop === 'guardrail_intervened' && shape.guardrail ? 'guardrail_intervened' : 'content_filtered' };
    case 'size':
      return { text: padTo(composed.text, reply.bytes), stopReason: 'end_turn', unlimited: true };
  }
}

/** The composition as a well-behaved model sends it: a tool call when a tool was offered for a review. */
export function wellBehaved(composed: Composition, shape: CallShape): Misbehaved {
  if (composed.kind === 'review' && shape.tool) return { text: '', toolInput: JSON.stringify(composed.review), stopReason: 'tool_use' };
  return { text: composed.text, stopReason: 'end_turn' };
}

/**
 * A bad day's draw for one call: with probability `rate`, a case that applies to the call's
 * kind, fixed by the seed and the call's identity (so a retried job misbehaves the same way).
 */
export function drawMisbehaviour(cases: readonly Misbehaviour[], rate: number, kindOf: StepKind, identity: readonly string[]): Misbehaviour | undefined {
  if (rate <= 0 || hash01('bad-day', ...identity) >= rate) return undefined;
  const applicable = cases.filter((c) => c.kinds.includes(kindOf));
  return applicable[Math.floor(hash01('bad-day-case', ...identity) * applicable.length)];
}

function render(template: string, composed: Composition): string {
  const review = composed.kind === 'review' ? composed.review : undefined;
  const values: Record<string, string> = {
    text: composed.text,
    json: review ? JSON.stringify(review) : composed.text,
    jsonPretty: review ? JSON.stringify(review, null, 2) : composed.text,
    jsonSingle: review ? singleQuoted(review) : composed.text,
    jsonLoose: review ? looseJson(review) : composed.text,
    first: review?.ranking[0] ?? 'A',
    second: review?.ranking[1] ?? review?.ranking[0] ?? 'B',
  };
  return template.replace(/\{\{|\}\}|\{(\w+)\}/g, (whole, name: string | undefined) => {
    if (whole === '{{') return '{';
    if (whole === '}}') return '}';
    return values[name ?? ''] ?? whole;
  });
}

type ReviewForm = Extract<Misbehaviour['reply'], { form: 'review' }>;
type SynthesisForm = Extract<Misbehaviour['reply'], { form: 'synthesis' }>;

function oddReview(review: { ranking: string[]; critiques: Record<string, string> }, form: ReviewForm): Record<string, unknown> {
  const sorted = [...review.ranking].sort();
  const name = (label: string): string => form.label.replace('{label}', label).replace('{index}', String(sorted.indexOf(label) + 1));
  let ranking = review.ranking.map(name);
  if (form.unknown !== undefined && ranking.length > 0) ranking = [...ranking.slice(0, -1), form.unknown];
  if (form.duplicate && ranking.length > 0) ranking = [ranking[0] as string, ...ranking.slice(0, -1)];
  const entries = Object.entries(review.critiques).map(([label, text]) => [name(label), text] as const);
  const critiques = Object.fromEntries(form.dropCritique ? entries.slice(1) : entries);
  return { ranking: form.ranking === 'string' ? ranking.join(' > ') : ranking, critiques };
}

function oddSynthesis(sections: ChairSections, form: SynthesisForm): string {
  const h = { recommendation: 'Recommendation', agreement: 'Where the circle agrees', dissent: 'Where the circle disagrees', confidence: 'Confidence', ...form.headings };
  const confidence = form.confidence === undefined ? sections.confidence.reason : form.confidence;
  const parts: [string, string][] = [
    [h.recommendation, sections.recommendation],
    [h.agreement, sections.agreement],
    [h.dissent, sections.dissent],
  ];
  if (confidence !== null) parts.push([h.confidence, confidence]);
  return parts
    .map(([heading, body], i) => SECTION_STYLES[form.style](heading, body, i))
    .join('\n\n');
}

/** How each style writes one section (`i`: its position). */
const SECTION_STYLES: Record<'markdown' | 'colon' | 'bold' | 'numbered', (heading: string, body: string, i: number) => string> = {
  markdown: (heading, body) => `## ${heading}\n\n${body}`,
  colon: (heading, body) => `${heading}: ${body}`,
  bold: (heading, body) => `**${heading}**\n${body}`,
  numbered: (heading, body, i) => `${i + 1}. ${heading}\n${body}`,
};

function singleQuoted(review: { ranking: string[]; critiques: Record<string, string> }): string {
  const q = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const critiques = Object.entries(review.critiques).map(([k, v]) => `${q(k)}: ${q(v)}`);
  return `{'ranking': [${review.ranking.map(q).join(', ')}], 'critiques': {${critiques.join(', ')}}}`;
}

function looseJson(review: { ranking: string[]; critiques: Record<string, string> }): string {
  const critiques = Object.entries(review.critiques).map(([k, v]) => `  ${k}: ${JSON.stringify(v)},`);
  return `{\n ranking: ${JSON.stringify(review.ranking)},\n critiques: {\n${critiques.join('\n')}\n },\n}`;
}

/** The text repeated until it is `bytes` long (cut on a character boundary). */
function padTo(text: string, bytes: number): string {
  const unit = `${text.trim() || 'Padding.'}\n\n`;
  const buffer = Buffer.from(unit.repeat(Math.ceil(bytes / Buffer.byteLength(unit)) + 1));
  let end = bytes;
  while (end > 0 && ((buffer[end] ?? 0) & 0xc0) === 0x80) end--;
  return buffer.subarray(0, end).toString('utf8');
}
