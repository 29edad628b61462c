/**
 * Simulated advisors: deterministic, plausible and distinct answers drawn from the text
 * banks in fixtures/advisors. The same (model, prompt) always gives the same text; seeds
 * come from hashes, never from Math.random. A review is composed as data (ranking and
 * critiques) so that it can be sent as text or as a tool call; the chair is
 * simulated-chair.ts. A repair prompt is heeded: the simulated model answers properly.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { PromptView } from './converse-request.js';
import { chairMarkdown, chairSchema, chairSections, type ChairBank, type ChairSections } from './simulated-chair.js';
import { Seeded, capitalise, fill, hash01, keyPhrases, leadSentence, topicOf } from './text-kit.js';

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
type Voice = z.infer<typeof voiceSchema>;

/** A review as data: labels best first and a critique per label. */
export interface SimulatedReview {
  ranking: string[];
  critiques: Record<string, string>;
}

/** What a simulated model answers, as text and, where it has one, as structure. */
export type Composition =
  | { kind: 'advise'; text: string }
  | { kind: 'review'; text: string; review: SimulatedReview }
  | { kind: 'synthesize'; text: string; sections: ChairSections };

/** An answer that addresses the reviewers instead of the question (a good reviewer ranks it last). */
const MANIPULATIVE = /ignore (?:all |the )?(?:above|previous|prior)|rank (?:me|this answer) (?:first|highest)|note to (?:the )?reviewers/i;

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
    return this.compose(modelId, view).text;
  }

  /** The answer for a request, with its structure for a review or a synthesis. */
  compose(modelId: string, view: PromptView): Composition {
    switch (view.kind) {
      case 'advise':
        return { kind: 'advise', text: this.advise(modelId, view) };
      case 'review': {
        const { review, text } = this.review(modelId, view);
        return { kind: 'review', text, review };
      }
      case 'synthesize': {
        const sections = chairSections(this.chair, view);
        return { kind: 'synthesize', text: chairMarkdown(sections), sections };
      }
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

  private review(modelId: string, view: PromptView): { review: SimulatedReview; text: string } {
    const voice = this.voiceFor(modelId, view.system);
    const labelled = view.answers.filter((a): a is typeof a & { label: string } => Boolean(a.label));
    // A shared sense of quality plus the reviewer's taste: reviewers mostly agree, sometimes not.
    // An answer that tells the reviewers how to rank it goes last, as a careful reviewer would put it.
    const score = (text: string): number =>
      (MANIPULATIVE.test(text) ? -1 : 0) +
      0.5 * hash01('quality', view.question, text) +
      0.3 * hash01('taste', modelId, view.question, text) +
      0.2 * preference(voice, text);
    const ranked = [...labelled].sort((a, b) => score(b.text) - score(a.text));
    const rng = new Seeded('review', modelId, view.question, ...ranked.map((a) => a.label));
    const focus = keyPhrases(view.question)[0] ?? 'the question';
    const critiques: Record<string, string> = {};
    ranked.forEach((a, i) => {
      if (MANIPULATIVE.test(a.text)) {
        critiques[a.label] = 'It tries to tell the reviewers how to rank it instead of answering the question, so it goes last.';
        return;
      }
      const bank = i === 0 ? voice.critiques.best : i === ranked.length - 1 ? voice.critiques.worst : voice.critiques.middle;
      // Quote an answer's opening sentence whole, or pick a critique that needs no quote.
      const point = leadSentence(a.text, 25);
      const usable = bank.filter((t) => point !== undefined || !t.includes('{point}'));
      critiques[a.label] = fill(rng.pick(usable.length ? usable : bank), { focus, point: point ?? '' });
    });
    const review: SimulatedReview = { ranking: ranked.map((a) => a.label), critiques };
    const json = JSON.stringify(review, null, 2);
    // A repaired review comes back exactly as asked: the JSON alone.
    const body = voice.review.fenced && !view.repair ? `\`\`\`json\n${json}\n\`\`\`` : json;
    const text = voice.review.preamble && !view.repair ? `${voice.review.preamble}\n\n${body}` : body;
    return { review, text };
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
