/**
 * Reading the chair's markdown into recommendation, agreement, dissent and confidence, as
 * chairs write it on a bad day: headings in other words ("Final recommendation:", "Bottom
 * line", "Consensus"), bold-only or numbered heading lines, a whole-answer code fence,
 * "Confidence: 7/10" or none at all. Only a text with no recognisable recommendation is a
 * problem (the repair prompt quotes it). Pure.
 */
import type { Confidence, SynthesisParsed } from '../shared/contracts/job.js';
import { cleanModelText } from './model-text.js';
import type { ReadResult } from './review-parser.js';

/** The synthesis sections, as the chair is told to write them. */
export const SYNTHESIS_HEADINGS = {
  recommendation: 'Recommendation',
  agreement: 'Where the circle agrees',
  dissent: 'Where the circle disagrees',
  confidence: 'Confidence',
} as const;

type Section = keyof typeof SYNTHESIS_HEADINGS;

const SECTION_NAMES: [Section, RegExp][] = [
  ['recommendation', /^(?:(?:our|the|my|final|overall|main|key)\s+)*(?:recommendations?|advice|verdict|bottom[\s-]+line|summary|tl;?\s?dr|in\s+short|conclusion)\b/],
  [
    'agreement',
    /^(?:where\s+(?:the\s+circle|they|the\s+advisors|advisors)\s+agrees?|(?:points\s+of\s+|areas\s+of\s+)?agreements?|consensus|common\s+ground|shared\s+views?|what\s+(?:the\s+advisors|they)\s+agree\s+on)\b/,
  ],
  [
    'dissent',
    /^(?:where\s+(?:the\s+circle|they|the\s+advisors|advisors)\s+(?:disagrees?|differs?)|(?:points\s+of\s+|areas\s+of\s+)?disagreements?|dissent|differences|divergences?|tensions?|open\s+questions)\b/,
  ],
  ['confidence', /^(?:(?:overall|our|my)\s+)?(?:confidence(?:\s+level)?|certainty|how\s+(?:sure|confident))\b/],
];

/**
 * A heading line: markdown `#`, a line that is bold as a whole, a numbered line, or `Name:`
 * at the start of a line. Returns the section and whatever follows it on the line.
 */
function headingOf(line: string): { section: Section; rest: string } | undefined {
  const m = /^\s*(#{1,6}\s+)?(\d+[.)]\s+)?(\*\*|__)?\s*(.*?)\s*$/.exec(line);
  if (!m) return undefined;
  const hashed = Boolean(m[1]);
  const bold = Boolean(m[3]);
  const body = (m[4] ?? '').replace(/\*\*|__/g, '').trim();
  const lower = body.toLowerCase();
  for (const [section, pattern] of SECTION_NAMES) {
    const hit = pattern.exec(lower);
    if (!hit) continue;
    const after = body.slice(hit[0].length);
    const colon = /^\s*[:\u2014\u2013-]/.test(after);
    const alone = after.trim() === '' || /^[:.\s]*$/.test(after);
    // Prose that merely starts with the word ("Confidence in the plan grows…") is no heading.
    if (!hashed && !colon && !(bold && alone) && !(m[2] && alone)) return undefined;
    return { section, rest: after.replace(/^[\s:\u2014\u2013\-*_]+/, '').trim() };
  }
  return undefined;
}

/** The chair's confidence from a Confidence section or, failing that, any "confidence: …" in the text. */
export function confidenceIn(text: string): Exclude<Confidence, 'unstated'> | undefined {
  const lower = text.toLowerCase();
  const ratio = /(\d+(?:\.\d+)?)\s*(?:\/|out of)\s*(10|5|100)\b/.exec(lower) ?? /(\d{1,3})\s*(%)/.exec(lower);
  const word = /\b(very high|high|medium|moderate|middling|low|very low)\b/.exec(lower)?.[1];
  if (word && (!ratio || lower.indexOf(word) < (ratio.index ?? Infinity))) {
    return word.endsWith('high') ? 'high' : word.endsWith('low') ? 'low' : 'medium';
  }
  if (ratio) {
    const scale = ratio[2] === '%' ? 100 : Number(ratio[2]);
    const share = Number(ratio[1]) / scale;
    if (Number.isFinite(share) && share >= 0 && share <= 1) return share >= 0.7 ? 'high' : share >= 0.4 ? 'medium' : 'low';
  }
  return undefined;
}

/**
 * Reads the chair's markdown. A recommendation is required: its own section, or the text
 * before the first other section. A missing agreement or dissent reads as empty, a missing
 * confidence as `unstated`.
 */
export function readSynthesis(raw: string): ReadResult<SynthesisParsed> {
  const text = cleanModelText(raw);
  if (!text.trim()) return { ok: false, problem: 'the reply is empty' };
  const body = text.replace(/^\s*```[a-z]*\s*\n([\s\S]*?)\n```\s*$/i, '$1');
  const sections: Partial<Record<Section, string[]>> = {};
  const preface: string[] = [];
  let current: string[] | undefined = preface;
  for (const line of body.split('\n')) {
    const heading = headingOf(line);
    if (heading && !sections[heading.section]) {
      current = sections[heading.section] = heading.rest ? [heading.rest] : [];
    } else current?.push(line);
  }
  const read = (lines: string[] | undefined): string => (lines ?? []).join('\n').trim();
  const found = Object.keys(sections).length;
  const recommendation = read(sections.recommendation) || (found > 0 ? read(preface) : '');
  if (!recommendation) {
    return {
      ok: false,
      problem: found === 0 ? 'it has none of the four sections (no Recommendation heading)' : 'it has no Recommendation section',
    };
  }
  const confidence = sections.confidence ? confidenceIn(read(sections.confidence)) : undefined;
  return {
    ok: true,
    value: {
      kind: 'synthesis',
      recommendation,
      agreement: read(sections.agreement),
      dissent: read(sections.dissent),
      confidence: confidence ?? 'unstated',
    },
  };
}
