/**
 * Small deterministic text tools for the simulated advisors: seeded choice (no
 * Math.random), key phrases of a question, template filling and token splitting.
 */
import { createHash } from 'node:crypto';

/** A seeded pseudo-random source (mulberry32) from any strings. */
export class Seeded {
  private state: number;

  constructor(...parts: string[]) {
    this.state = createHash('sha256').update(parts.join('\u0000')).digest().readUInt32LE(0);
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('cannot pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** `n` distinct items in a seeded order. */
  sample<T>(items: readonly T[], n: number): T[] {
    return this.shuffle(items).slice(0, n);
  }

  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  }
}

/** A number in [0, 1) fixed by the strings given. */
export const hash01 = (...parts: string[]): number => new Seeded(...parts).next();

// Words that end a key phrase: function words and common verbs, so phrases come out as nouns.
const BREAKS = new Set(
  (
    'a about after all also am an and any are as at be because been before being but by can could did do does doing ' +
    'for from get go going had has have having how i if in into is it its just let like make me more most my need ' +
    'no not now of on or our over really should so some than that the their them then there these they this those ' +
    'to too up us very want was we were what when where whether which while who whom why will with would you your ' +
    'leave start use choose build hire move buy sell take scale switch quit learn pick invest keep stay adopt migrate ' +
    'launch raise spend try focus know think tell give ask worth best better right way ok okay without within ' +
    'between through across against among during under versus vs via per each every off out down losing getting ' +
    'rewrite cook open run grow find become join create write fire pay save plan prepare handle manage improve reduce ' +
    'increase avoid deal help say feel see look put set turn bring sign apply accept refuse negotiate talk convince ' +
    'balance rent prioritise prioritize decide approach fix ship deploy test design split merge replace retire ' +
    'consider stop continue change tackle'
  ).split(' '),
);
/** Longest word a key phrase may contain. */
const MAX_WORD = 24;
const DETERMINERS = new Set(['a', 'an', 'the', 'my', 'our', 'your', 'their', 'its', 'this', 'that']);
const RELATIVES = new Set(['that', 'which', 'who']);
const SWAP: Record<string, string> = { its: 'the', my: 'your', our: 'your', mine: 'yours', ours: 'yours', i: 'you', we: 'you', me: 'you', us: 'you', am: 'are' };

/**
 * Noun-like phrases of a question, most substantial first, with the asker's pronouns turned
 * to "your" ("my stable job" → "your stable job"). Never empty.
 */
export function keyPhrases(question: string): string[] {
  // Words are letters of any script ("café", "Zürich"), keep a trailing % ("20% less"); a
  // "word" longer than any real one (a URL, a paste of one long token) is no phrase, or the
  // templates would repeat it in every sentence.
  const words = (question.replace(/\[\[[^\]]*\]\]/g, ' ').match(/[\p{L}\p{N}][\p{L}\p{M}\p{N}'’\-]*%?/gu) ?? []).filter((w) => w.length <= MAX_WORD);
  const runs: { words: string[]; at: number; led: boolean }[] = [];
  let run: string[] = [];
  let determiner: string | undefined;
  const flush = (at: number): void => {
    while (run.length && RELATIVES.has(run.at(-1) ?? '')) run.pop();
    if (run.length) runs.push({ words: determiner ? [determiner, ...run] : run, at, led: determiner !== undefined });
    run = [];
    determiner = undefined;
  };
  words.forEach((word, i) => {
    const lower = word.toLowerCase();
    // "a job that pays 20% less": a relative clause stays with the noun phrase it follows.
    if (RELATIVES.has(lower) && determiner !== undefined && run.length > 0) run.push(lower);
    else if (DETERMINERS.has(lower)) {
      flush(i);
      determiner = SWAP[lower] ?? lower;
    } else if (BREAKS.has(lower) || RELATIVES.has(lower)) flush(i);
    // "q:Q" is two words of the question but one of a phrase: "the q q" reads as a slip.
    else if (run.at(-1)?.toLowerCase() !== lower) run.push(/^\p{Lu}\p{Ll}/u.test(word) && i > 0 ? word : lower);
  });
  flush(words.length);
  // Noun phrases that open with a determiner read best in templates; then the longest.
  const phrases = runs
    .filter((r) => r.words.some((w) => w.length > 2))
    .sort((a, b) => Number(b.led) - Number(a.led) || b.words.length - a.words.length || b.at - a.at)
    .map((r) => withArticle(r.words.slice(0, r.led ? 7 : 5)));
  return phrases.length ? [...new Set(phrases)] : ['this decision'];
}

function withArticle(words: string[]): string {
  const first = words[0] ?? '';
  const last = words.at(-1) ?? '';
  // Plurals, gerunds, numbers and names read fine without an article.
  if (DETERMINERS.has(first) || /^\d/.test(first) || /^[A-Z]/.test(first) || /[^s]s$|ing$/.test(last)) return words.join(' ');
  return ['the', ...words].join(' ');
}

/** The question as a clause, without the trailing question mark and directives, at most 30 words. */
export function topicOf(question: string): string {
  const clause = question.replace(/\[\[[^\]]*\]\]/g, ' ').replace(/\s+/g, ' ').trim().replace(/[?!.\s]+$/, '');
  const words = clause.split(' ').filter((w) => w.length <= MAX_WORD);
  return words.length > 30 ? `${words.slice(0, 30).join(' ')}\u2026` : words.join(' ');
}

/** Names as English lists them: "A", "A and B", "A, B and C". */
export const listOf = (names: readonly string[]): string =>
  names.length <= 2 ? names.join(' and ') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;

/**
 * Fills `{name}` placeholders (`{Name}` capitalises the value); unknown names are left
 * visible so fixture mistakes show.
 */
export function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = values[name] ?? values[name.charAt(0).toLowerCase() + name.slice(1)];
    if (value === undefined) return whole;
    return /^[A-Z]/.test(name) ? capitalise(value) : value;
  });
}

/** Capitalises the first letter (templates may start with a phrase). */
export const capitalise = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * Splits text into model-like tokens: words and sub-words of at most 8 characters with
 * their trailing whitespace. The tokens concatenate to exactly the input.
 */
export function tokenize(text: string): string[] {
  return text.match(/\S{1,8}\s*|\s+/g) ?? [];
}

/** The rough token estimate Bedrock users quote: four characters per token. */
export const estimateTokens = (chars: number): number => Math.max(1, Math.ceil(chars / 4));

/** The first sentence of some markdown, without markup, at most `max` characters. */
export function firstSentence(markdown: string, max = 160): string {
  const plain = markdown
    .replace(/```[\s\S]*?```/g, ' ')
    .replace(/^#+\s.*$/gm, ' ')
    .replace(/[*_`>#]/g, '')
    .replace(/^\s*(\d+[.)]|-)\s+/gm, '')
    .replace(/\s+/g, ' ')
    .trim();
  const sentence = /^(.+?[.!?])(\s|$)/.exec(plain)?.[1] ?? plain;
  return sentence.length > max ? `${sentence.slice(0, max - 1).replace(/\s+\S*$/, '')}\u2026` : sentence;
}

/**
 * The opening sentence of an answer, whole, fit to quote: markup and a leading label
 * ("Recommendation:", "Short version:") removed, capitalised, ending in its punctuation.
 * Undefined when the answer opens with no sentence of 3 to `maxWords` words.
 */
export function leadSentence(markdown: string, maxWords = 32): string | undefined {
  const sentence = firstSentence(markdown, 2000).replace(/^[A-Z][A-Za-z ]{0,30}:\s+/, '');
  const words = sentence.split(/\s+/).filter(Boolean);
  if (words.length < 3 || words.length > maxWords || !/[.!?]$/.test(sentence)) return undefined;
  return capitalise(sentence.replace(/"/g, "'"));
}
