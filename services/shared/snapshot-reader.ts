/**
 * The one reader of stored advisory snapshots (the State item's `snapshot`, JSON of an
 * XState persisted snapshot) for code that only reads them: the job view, the worker's
 * conversation history and its telemetry. Restoring a snapshot to run it is the machine's
 * job (machines/advisory.snapshot.ts).
 */
import type { AdvisoryContext } from '../../machines/advisory.types.js';
import { isMachineStage, type MachineStage, type StateItem } from './contracts/job.js';

/** The parts of a persisted advisory snapshot a reader needs. */
export interface PersistedAdvisory {
  stage: MachineStage;
  context: AdvisoryContext;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The stage and context of a snapshot's JSON. Anything that does not look like an advisory
 * snapshot counts as "no snapshot yet": a reader must never crash on stored data.
 */
export function decodeSnapshot(json: string | undefined): PersistedAdvisory | undefined {
  if (!json) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (!isRecord(raw) || !isRecord(raw.context) || !isRecord(raw.context.steps)) return undefined;
  // `.value` is 'succeeded' for an atomic state and { advising: {...} } for a compound one.
  const value = raw.value;
  const stage = typeof value === 'string' ? value : isRecord(value) ? Object.keys(value)[0] : undefined;
  if (!stage || !isMachineStage(stage)) return undefined;
  return { stage, context: raw.context as unknown as AdvisoryContext };
}

/** The stage and context of a State item's snapshot (see decodeSnapshot). */
export const readSnapshot = (state: StateItem | undefined): PersistedAdvisory | undefined => decodeSnapshot(state?.snapshot);
