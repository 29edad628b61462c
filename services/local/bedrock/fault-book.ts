/** Armed faults and scripted replies: the next matching calls fail, or answer a given text. */
import type { ArmedFault, ArmedReply, CallMatch, StepKind } from './standin.types.js';
import { normaliseQuestion } from './recordings.js';

export interface CallTarget {
  modelId: string;
  jobId?: string;
  step?: string;
  kind: StepKind;
  /** The question of the call's last user turn. */
  question?: string;
}

/** Entries that apply to the next `times` calls matching `match` (-1 = until reset). */
export class CallBook<T extends { match: CallMatch; times: number }> {
  private entries: T[] = [];

  inject(entry: T): void {
    this.entries.push({ ...entry, match: { ...entry.match } });
  }

  /** The first armed entry matching the call, used up by one; undefined when none applies. */
  take(call: CallTarget): T | undefined {
    const entry = this.entries.find((e) => e.times !== 0 && matches(e.match, call));
    if (!entry) return undefined;
    if (entry.times > 0) entry.times -= 1;
    this.entries = this.entries.filter((e) => e.times !== 0);
    return entry;
  }

  list(): T[] {
    return this.entries.map((e) => ({ ...e, match: { ...e.match } }));
  }

  reset(): void {
    this.entries = [];
  }
}

export class FaultBook extends CallBook<ArmedFault> {}

export class ReplyBook extends CallBook<ArmedReply> {}

function matches(m: CallMatch, call: CallTarget): boolean {
  return (
    (m.modelId === undefined || m.modelId === call.modelId) &&
    (m.jobId === undefined || m.jobId === call.jobId) &&
    (m.step === undefined || m.step === call.step) &&
    (m.kind === undefined || m.kind === call.kind) &&
    (m.question === undefined || normaliseQuestion(call.question ?? '').includes(normaliseQuestion(m.question)))
  );
}
