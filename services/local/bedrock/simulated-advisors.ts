/**
 * Simulated advisors: deterministic, plausible and distinct answers drawn from the text
 * banks in fixtures/advisors. The same (model, prompt) always gives the same text; seeds
 * come from hashes, never from Math.random.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { PromptView } from './converse-request.js';
import { Seeded, capitalise, fill, hash01, keyPhrases, keyPoint, topicOf } from './text-kit.js';

/** fixtures/advisors in this repository. */
export const DEFAULT_ADVISORS_DIR = fileURLToPath(new URL('../../../fixtures/advisors/', import.meta.url));

const sectionSchema = z.object({
  format: z.enum(['paragraph', 'numbered', 'bullets']),
  heading: z.string().optional(),
  pick: z.number().int().positive(),
  from: z.array(z.string()).min(1),
});
const voiceSchema = z.object({
  voice: z.string(),
  match: z.object({ persona: z.array(z.string()), modelPrefixes: z.array(z.string()) }),
  review: z.object({ prefers: z.enum(['long', 'steps', 'risks', 'none']), fenced: z.boolean(), preamble: z.string() }),
  followUps: z.array(z.string()).min(1),
  sections: z.array(sectionSchema).min(1),
  critiques: z.object({ best: z.array(z.string()).min(1), middle: z.array(z.string()).min(1), worst: z.array(z.string()).min(1) }),
});
const chairSchema = z.object({
  recommendation: z.array(z.string()).min(1),
  agreement: z.array(z.string()).min(1),
  dissent: z.array(z.string()).min(1),
  noDissent: z.array(z.string()).length(2),
  confidence: z.object({ high: z.array(z.string()).min(1), medium: z.array(z.string()).min(1), low: z.array(z.string()).min(1) }),
});
type Voice = z.infer<typeof voiceSchema>;
type ChairBank = z.infer<typeof chairSchema>;

/** Reads the advisor text banks; a malformed file fails loudly at start-up. */
export function loadTextBanks(dir: string = DEFAULT_ADVISORS_DIR): { voices: Voice[]; chair: ChairBank } {
  const read = (file: string): unknown => JSON.parse(readFileSync(join(dir, file), 'utf8'));
  const voices = readdirSync(dir)
    .filter((f) => f.endsWith('.json') && f !== 'chair.json')
    .sort()
    .map((f) => voiceSchema.parse(read(f)));
  if (!voices.some((v) => v.voice === 'generic')) throw new Error(`${dir} needs a generic.json voice for unknown models`);
  return { voices, chair: chairSchema.parse(read('chair.json')) };
}

const SIZE_DIRECTIVE = /\[\[size:(\d{1,8})\]\]/;
const MAX_SIZE = 8_000_000;

/** `[[size:N]]` in a question asks for an advise answer of about N bytes (at most 8 MB), for limit tests. */
export const hasSizeDirective = (question: string): boolean => SIZE_DIRECTIVE.test(question);

export class SimulatedAdvisors {
  private readonly voices: Voice[];
  private readonly chair: ChairBank;

  constructor(banks = loadTextBanks()) {
    this.voices = banks.voices;
    this.chair = banks.chair;
  }

  /** The full answer text for a request. */
  answer(modelId: string, view: PromptView): string {
    switch (view.kind) {
      case 'advise':
        return this.advise(modelId, view);
      case 'review':
        return this.review(modelId, view);
      case 'synthesize':
        return this.synthesize(view);
    }
  }

  /** The voice for a persona (system prompt) or, failing that, a model family; else generic. */
  voiceFor(modelId: string, system: string): Voice {
    const persona = system.toLowerCase();
    const byPersona = this.voices.find((v) => v.match.persona.some((p) => persona.includes(p)));
    const byModel = this.voices.find((v) => v.match.modelPrefixes.some((p) => modelId.startsWith(p)));
    return byPersona ?? byModel ?? (this.voices.find((v) => v.voice === 'generic') as Voice);
  }

  private advise(modelId: string, view: PromptView): string {
    const voice = this.voiceFor(modelId, view.system);
    const rng = new Seeded('advise', modelId, voice.voice, view.question);
    const phrases = keyPhrases(view.question);
    const previousQuestion = view.history.at(-1);
    const values = {
      focus: phrases[0] ?? 'this decision',
      focus2: phrases[1] ?? phrases[0] ?? 'this decision',
      topic: topicOf(view.question),
      previous: previousQuestion ? (keyPhrases(previousQuestion)[0] ?? 'your earlier question') : '',
    };
    const paragraphs: string[] = [];
    if (previousQuestion) paragraphs.push(fill(rng.pick(voice.followUps), values));
    for (const section of voice.sections) paragraphs.push(renderSection(section, rng.sample(section.from, section.pick), values));
    const text = paragraphs.map(capitalise).join('\n\n');
    const size = SIZE_DIRECTIVE.exec(view.question)?.[1];
    return size ? padToBytes(text, Math.min(Number(size), MAX_SIZE), voice, rng, values) : text;
  }

  private review(modelId: string, view: PromptView): string {
    const voice = this.voiceFor(modelId, view.system);
    const labelled = view.answers.filter((a): a is typeof a & { label: string } => Boolean(a.label));
    // A shared sense of quality plus the reviewer's taste: reviewers mostly agree, sometimes not.
    const score = (text: string): number =>
      0.5 * hash01('quality', view.question, text) + 0.3 * hash01('taste', modelId, view.question, text) + 0.2 * preference(voice, text);
    const ranked = [...labelled].sort((a, b) => score(b.text) - score(a.text));
    const rng = new Seeded('review', modelId, view.question, ...ranked.map((a) => a.label));
    const focus = keyPhrases(view.question)[0] ?? 'the question';
    const critiques: Record<string, string> = {};
    ranked.forEach((a, i) => {
      const bank = i === 0 ? voice.critiques.best : i === ranked.length - 1 ? voice.critiques.worst : voice.critiques.middle;
      critiques[a.label] = fill(rng.pick(bank), { focus, point: keyPoint(a.text) });
    });
    const json = JSON.stringify({ ranking: ranked.map((a) => a.label), critiques }, null, 2);
    const body = voice.review.fenced ? `\`\`\`json\n${json}\n\`\`\`` : json;
    return voice.review.preamble ? `${voice.review.preamble}\n\n${body}` : body;
  }

  private synthesize(view: PromptView): string {
    const rng = new Seeded('synthesize', view.question, ...view.answers.map((a) => a.advisor ?? a.label ?? ''));
    const names = view.answers.map((a, i) => a.advisor ?? `Advisor ${i + 1}`);
    const order = view.aggregate.length ? view.aggregate.map((r) => r.advisor).filter((n) => names.includes(n)) : [];
    for (const n of names) if (!order.includes(n)) order.push(n);
    const pointOf = (name: string): string => keyPoint(view.answers[names.indexOf(name)]?.text ?? '');
    const phrases = keyPhrases(view.question);
    const top = order[0] ?? 'The circle';
    const second = order[1] ?? top;
    const dissenter = order.at(-1) ?? top;
    const values = {
      top,
      second,
      names: listOf(names),
      focus: phrases[0] ?? 'this decision',
      focus2: phrases[1] ?? phrases[0] ?? 'this decision',
      topPoint: pointOf(top),
      a: top,
      b: dissenter,
      aPoint: pointOf(top),
      bPoint: pointOf(dissenter),
    };
    const confidence = confidenceOf(view, names.length);
    const dissent =
      names.length < 2 ? this.chair.noDissent[1] : confidence === 'high' ? this.chair.noDissent[0] : rng.pick(this.chair.dissent);
    return [
      '## Recommendation',
      capitalise(fill(rng.pick(this.chair.recommendation), values)),
      '## Where the circle agrees',
      fill(rng.pick(this.chair.agreement), values),
      '## Where the circle disagrees',
      fill(dissent ?? '', values),
      '## Confidence',
      capitalise(fill(rng.pick(this.chair.confidence[confidence]), values)),
    ].join('\n\n');
  }
}

function renderSection(section: z.infer<typeof sectionSchema>, items: string[], values: Record<string, string>): string {
  const filled = items.map((t) => capitalise(fill(t, values)));
  const body =
    section.format === 'numbered'
      ? filled.map((t, i) => `${i + 1}. ${t}`).join('\n')
      : section.format === 'bullets'
        ? filled.map((t) => `- ${t}`).join('\n')
        : filled.join('\n\n');
  return section.heading ? `${section.heading}\n\n${body}` : body;
}

/** Extends an answer with more of the voice's paragraphs until it is exactly `bytes` long. */
function padToBytes(text: string, bytes: number, voice: Voice, rng: Seeded, values: Record<string, string>): string {
  const pool = voice.sections.flatMap((s) => s.from);
  const parts = [text];
  let length = Buffer.byteLength(text);
  while (length < bytes) {
    const next = `\n\n${capitalise(fill(rng.pick(pool), values))}`;
    parts.push(next);
    length += Buffer.byteLength(next);
  }
  const buffer = Buffer.from(parts.join(''));
  // Cut on a character boundary so the answer stays valid UTF-8.
  let end = bytes;
  while (end > 0 && ((buffer[end] ?? 0) & 0xc0) === 0x80) end--;
  return buffer.subarray(0, end).toString('utf8');
}

/** How much the reviewer's voice likes an answer, in [0, 1]. */
function preference(voice: Voice, text: string): number {
  switch (voice.review.prefers) {
    case 'long':
      return Math.min(1, text.length / 2500);
    case 'steps':
      return Math.min(1, (text.match(/^\s*\d+[.)]\s/gm)?.length ?? 0) / 3);
    case 'risks':
      return Math.min(1, (text.match(/risk|assum|wrong|fail|caution|careful/gi)?.length ?? 0) / 5);
    case 'none':
      return 0.5;
  }
}

/**
 * The chair's confidence from what it was shown: an advisor every reviewer put first →
 * high; a clear aggregate order, or no reviews at all → medium; a flat aggregate or fewer
 * than two answers → low. Notes (e.g. an advisor that failed) lower it one step.
 */
function confidenceOf(view: PromptView, answers: number): 'high' | 'medium' | 'low' {
  if (answers < 2) return 'low';
  const levels = ['low', 'medium', 'high'] as const;
  let level = 1;
  const means = view.aggregate.map((r) => r.meanPosition);
  if (view.reviews.length > 0 && means.length > 1) {
    const spread = Math.max(...means) - Math.min(...means);
    level = Math.min(...means) === 1 ? 2 : spread >= 0.5 ? 1 : 0;
  }
  if (view.notes.length) level = Math.max(0, level - 1);
  return levels[level] ?? 'medium';
}

const listOf = (names: string[]): string =>
  names.length <= 2 ? names.join(' and ') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
