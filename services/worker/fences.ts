/**
 * Fences for data in prompts. Every text a user or a model wrote (the question, answers,
 * critiques, an earlier reply) goes inside a tag whose name carries a nonce that none of the
 * prompt's texts contains, e.g. `<answer-3f9a0c2e label="A">…</answer-3f9a0c2e>`. So no such
 * text can close its fence early or open one that passes for ours: it would have to contain
 * the nonce. The nonce is derived from the texts (a hash, re-drawn while any text contains
 * it), so the same prompt is built the same way every time. Pure.
 */
import { createHash } from 'node:crypto';

/** The tag names prompts use; each gets the prompt's nonce as a suffix. */
export const FENCE_TAGS = ['question', 'answer', 'review', 'reviews', 'aggregate', 'notes', 'previous-reply'] as const;
export type FenceTag = (typeof FENCE_TAGS)[number];

/** Hex digits of a nonce: 2^-32 per text that a given text collides, and a collision only re-draws. */
const NONCE_LENGTH = 8;

/** Tags with one nonce, for one prompt. */
export interface Fences {
  readonly nonce: string;
  /** `<tag-nonce attrs>\ntext\n</tag-nonce>` */
  wrap(tag: FenceTag, text: string, attrs?: Record<string, string>): string;
  /** The opening and closing tag, for instructions that name them. */
  name(tag: FenceTag): string;
}

/** Fences whose nonce none of `texts` contains (case-insensitive). */
export function fencesFor(texts: readonly string[]): Fences {
  const lower = texts.map((t) => t.toLowerCase());
  let seed = createHash('sha256');
  for (const t of texts) seed.update(t).update('\u0000');
  let nonce = seed.digest('hex').slice(0, NONCE_LENGTH);
  for (let round = 1; lower.some((t) => t.includes(nonce)); round++) {
    seed = createHash('sha256').update(nonce).update(String(round));
    nonce = seed.digest('hex').slice(0, NONCE_LENGTH);
  }
  const name = (tag: FenceTag): string => `${tag}-${nonce}`;
  return {
    nonce,
    name,
    wrap: (tag, text, attrs = {}) => {
      const attributes = Object.entries(attrs)
        .map(([key, value]) => ` ${key}="${attr(value)}"`)
        .join('');
      return `<${name(tag)}${attributes}>\n${text.trim()}\n</${name(tag)}>`;
    },
  };
}

/** Attribute values are names from the circle file and our labels; quotes would break the tag. */
function attr(value: string): string {
  return value.replace(/["<>\n\r]/g, ' ').trim();
}
