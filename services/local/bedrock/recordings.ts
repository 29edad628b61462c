/**
 * Recorded conversations (fixtures/recorded/*.json): when a request's question matches a
 * recording, the stand-in streams the recorded chunks instead of generating an answer.
 * Replies are keyed `<stepKind>.<advisorId>` (`synthesize.chair` for the chair), found
 * from the `step` field of the request's requestMetadata (`advise.claude`, `synthesize`).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { StepKind } from './standin.types.js';

/** fixtures/recorded in this repository. */
export const DEFAULT_RECORDINGS_DIR = fileURLToPath(new URL('../../../fixtures/recorded/', import.meta.url));

const recordingSchema = z.object({
  description: z.string().optional(),
  question: z.string().min(1),
  /** Advisor ids of the recorded job, in circle order. */
  advisors: z.array(z.string().min(1)).min(1),
  mode: z.enum(['full', 'quick']).default('full'),
  replies: z.record(z.string().regex(/^(advise|review|synthesize)\.[a-z][a-z0-9-]*$/), z.array(z.string()).min(1)),
  expected: z.looseObject({
    status: z.enum(['succeeded', 'failed', 'cancelled']),
    confidence: z.enum(['high', 'medium', 'low']).optional(),
  }),
});

export type Recording = z.infer<typeof recordingSchema> & { name: string };

/** Reads every recording in `dir` (name = file name without .json); a malformed one fails loudly. */
export function loadRecordings(dir: string = DEFAULT_RECORDINGS_DIR): Recording[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const parsed = recordingSchema.safeParse(JSON.parse(readFileSync(join(dir, file), 'utf8')));
      if (!parsed.success) throw new Error(`invalid recording ${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      return { ...parsed.data, name: basename(file, '.json') };
    });
}

/** Questions match when equal after trimming, collapsing whitespace and ignoring case. */
export const normaliseQuestion = (q: string): string => q.replace(/\s+/g, ' ').trim().toLowerCase();

/** The reply key of a call: its step id, with the chair's step as `synthesize.chair`. */
export function replyKey(kind: StepKind, step: string | undefined): string | undefined {
  if (kind === 'synthesize') return 'synthesize.chair';
  return step?.startsWith(`${kind}.`) ? step : undefined;
}

export class RecordingBook {
  private readonly byQuestion: Map<string, Recording>;

  constructor(recordings: Recording[]) {
    this.byQuestion = new Map(recordings.map((r) => [normaliseQuestion(r.question), r]));
  }

  /** The recorded chunks for this question and reply key, if there are any. */
  find(question: string, key: string | undefined): { recording: Recording; chunks: string[] } | undefined {
    const recording = this.byQuestion.get(normaliseQuestion(question));
    const chunks = key ? recording?.replies[key] : undefined;
    return recording && chunks ? { recording, chunks } : undefined;
  }
}
