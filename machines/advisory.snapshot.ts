/**
 * Restoring persisted advisory snapshots: only versions this code knows, only snapshots that
 * fit the machine they name, migrated from older versions on the way in. Anything else
 * fails loudly with IncompatibleSnapshotError.
 */
import type { Snapshot } from 'xstate';
import { createAdvisoryMachine, type AdvisoryMachine } from './advisory.machine.js';
import { ADVISORY_MACHINE_VERSION, type AdvisoryContext, type AdvisoryInput } from './advisory.types.js';
import { IncompatibleSnapshotError } from './errors.js';

/**
 * How a snapshot of an older version becomes one of this version. advisory/1 states and
 * context fields all exist in advisory/2 with the same meaning; the one difference is that
 * advisory/1 kept an empty aggregate when every review failed, where advisory/2 keeps none
 * (so that the chair is told there is no ranking rather than handed an empty one).
 */
const MIGRATIONS: Readonly<Record<string, (snapshot: Record<string, unknown>) => Record<string, unknown>>> = {
  'advisory/1': (snapshot) => {
    const context = snapshot.context as Record<string, unknown> | undefined;
    const aggregate = context?.aggregate as { ranking?: unknown[] } | undefined;
    if (!context || !aggregate || (Array.isArray(aggregate.ranking) && aggregate.ranking.length > 0)) return snapshot;
    const { aggregate: _empty, ...rest } = context;
    return { ...snapshot, context: rest };
  },
};

/** Machine versions whose persisted snapshots this code can restore and continue. */
export const RESTORABLE_MACHINE_VERSIONS: readonly string[] = [...Object.keys(MIGRATIONS), ADVISORY_MACHINE_VERSION];

/** The actors a persisted child may name: anything else was not written by this machine. */
const KNOWN_ACTOR_SOURCES = new Set(['runStep', 'waitUntil']);

/** A snapshot checked against this code, with the machine (built for its circle) to run it. */
export interface RestoredAdvisory {
  /** The job's machine; bind the worker's actors with `machine.provide(...)`. */
  machine: AdvisoryMachine;
  /** Pass as `createActor(machine.provide(…), { snapshot, input })`. */
  snapshot: Snapshot<unknown>;
  /** The job's input as recorded in the snapshot (XState's typings ask for one; a restore ignores it). */
  input: AdvisoryInput;
}

/**
 * Checks a persisted snapshot (JSON text or parsed) written by `machineVersion`, migrates it
 * to this version and returns it with its machine; throws IncompatibleSnapshotError when the version is unknown or the
 * snapshot does not fit the machine, so a job never continues on state it cannot read.
 */
export function restoreAdvisorySnapshot(persisted: unknown, machineVersion: unknown): RestoredAdvisory {
  if (typeof machineVersion !== 'string' || !RESTORABLE_MACHINE_VERSIONS.includes(machineVersion)) {
    throw new IncompatibleSnapshotError(
      `cannot restore a snapshot of machine version ${JSON.stringify(machineVersion)}; ` +
        `this code restores ${RESTORABLE_MACHINE_VERSIONS.join(', ')}`,
      machineVersion,
    );
  }
  const parsed = parse(persisted, machineVersion);
  const snapshot = MIGRATIONS[machineVersion]?.(parsed) ?? parsed;
  const incompatible = (why: string, cause?: unknown): IncompatibleSnapshotError =>
    new IncompatibleSnapshotError(`snapshot of ${machineVersion} does not fit the machine: ${why}`, machineVersion, { cause });

  if (!['active', 'done', 'error', 'stopped'].includes(snapshot.status as string)) throw incompatible(`unknown status ${JSON.stringify(snapshot.status)}`);
  const context = snapshot.context;
  if (!isRecord(context) || !Array.isArray(context.advisors) || !isRecord(context.steps)) throw incompatible('its context has no advisors or steps');
  if (!isRecord(snapshot.children)) throw incompatible('it has no children');
  for (const [id, child] of Object.entries(snapshot.children)) {
    if (!isRecord(child) || typeof child.src !== 'string' || !KNOWN_ACTOR_SOURCES.has(child.src)) {
      throw incompatible(`child ${id} is not a runStep or waitUntil actor`);
    }
  }

  let machine: AdvisoryMachine;
  let resolved: unknown;
  try {
    machine = createAdvisoryMachine({ advisors: context.advisors as string[] });
    // Throws when the state value names states this machine does not have.
    resolved = machine.resolveState({ value: snapshot.value as never, context: context as never }).value;
  } catch (err) {
    throw incompatible((err as Error).message, err);
  }
  // A value missing regions would be silently completed with initial states: refuse that too.
  if (canonical(resolved) !== canonical(snapshot.value)) throw incompatible(`state value ${JSON.stringify(snapshot.value)} is incomplete`);
  const { jobId, mode, quorum, advisors, chair, seed, policies } = context as unknown as AdvisoryContext;
  const input: AdvisoryInput = { jobId, mode, quorum, advisors, chair, seed, policies };
  return { machine, snapshot: snapshot as unknown as Snapshot<unknown>, input };
}

function parse(persisted: unknown, machineVersion: string): Record<string, unknown> {
  let value = persisted;
  if (typeof persisted === 'string') {
    try {
      value = JSON.parse(persisted);
    } catch (err) {
      throw new IncompatibleSnapshotError(`snapshot of ${machineVersion} is not valid JSON`, machineVersion, { cause: err });
    }
  }
  if (!isRecord(value)) throw new IncompatibleSnapshotError(`snapshot of ${machineVersion} is not an object`, machineVersion);
  return value;
}

/** JSON with object keys sorted, to compare state values regardless of key order. */
function canonical(value: unknown): string {
  if (!isRecord(value)) return JSON.stringify(value);
  return `{${Object.keys(value)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`)
    .join(',')}}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
