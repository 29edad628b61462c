/**
 * Replay corpus: every persisted snapshot under fixtures/snapshots/ (one directory per released
 * machine version) must restore into the current code and run to a final state.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { isFinalStage, stageOf } from '../../../machines/advisory.machine.js';
import { RESTORABLE_MACHINE_VERSIONS, restoreAdvisorySnapshot } from '../../../machines/advisory.snapshot.js';
import { ADVISORY_MACHINE_VERSION, type AdvisoryInput } from '../../../machines/advisory.types.js';
import { IncompatibleSnapshotError } from '../../../machines/errors.js';
import { ScriptedSteps } from '../../../fixtures/snapshots/scripted-steps.js';

const CORPUS = fileURLToPath(new URL('../../../fixtures/snapshots/', import.meta.url));

interface CorpusFile {
  machineVersion: string;
  input: AdvisoryInput;
  snapshot: { status: string; value: unknown; children: Record<string, { src: string; snapshot: { input: unknown } }> };
}

function jsonFilesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return jsonFilesUnder(path);
    return entry.name.endsWith('.json') ? [path] : [];
  });
}

const files = jsonFilesUnder(CORPUS).map((path) => ({
  name: relative(CORPUS, path),
  file: JSON.parse(readFileSync(path, 'utf8')) as CorpusFile,
}));

describe('replay corpus', () => {
  it('holds snapshots of every machine version this code restores', () => {
    for (const version of RESTORABLE_MACHINE_VERSIONS) {
      expect(files.filter(({ file }) => file.machineVersion === version).length, version).toBeGreaterThanOrEqual(5);
    }
    expect(RESTORABLE_MACHINE_VERSIONS).toContain(ADVISORY_MACHINE_VERSION);
  });

  it.each(files)('restores $name to its recorded state and runs it to a final state', async ({ file }) => {
    const restored = restoreAdvisorySnapshot(JSON.stringify(file.snapshot), file.machineVersion);
    const steps = new ScriptedSteps();
    const actor = createActor(steps.provide(restored.machine), { snapshot: restored.snapshot, input: file.input });
    actor.start();
    expect(actor.getSnapshot().value).toEqual(file.snapshot.value);

    // Exactly the recorded in-flight children are re-invoked, with their recorded input.
    const recorded = Object.values(file.snapshot.children);
    expect(steps.calls).toEqual(recorded.filter((c) => c.src === 'runStep').map((c) => c.snapshot.input));
    expect(steps.waits.map(({ until }) => ({ until }))).toEqual(recorded.filter((c) => c.src === 'waitUntil').map((c) => c.snapshot.input));

    await steps.runToEnd(actor);
    expect(actor.getSnapshot().status).toBe('done');
    const stage = stageOf(actor.getSnapshot().value);
    expect(isFinalStage(stage)).toBe(true);
    // A snapshot that was already final stays what it was; a working one finishes the job.
    expect(stage).toBe(file.snapshot.status === 'done' ? stageOf(file.snapshot.value as never) : 'succeeded');
  });
});

describe('restoreAdvisorySnapshot', () => {
  const sample = files.find(({ name }) => name.endsWith('advising-retrying.json'))?.file as CorpusFile;

  it('throws IncompatibleSnapshotError for a machine version it does not know', () => {
    expect(() => restoreAdvisorySnapshot(sample.snapshot, 'advisory/0')).toThrow(IncompatibleSnapshotError);
    expect(() => restoreAdvisorySnapshot(sample.snapshot, 'advisory/0')).toThrow(
      'cannot restore a snapshot of machine version "advisory/0"; this code restores advisory/1, advisory/2',
    );
    expect(() => restoreAdvisorySnapshot(sample.snapshot, undefined)).toThrow(IncompatibleSnapshotError);
  });

  it('throws IncompatibleSnapshotError for text that is not a snapshot', () => {
    expect(() => restoreAdvisorySnapshot('{"status":', ADVISORY_MACHINE_VERSION)).toThrow('is not valid JSON');
    expect(() => restoreAdvisorySnapshot('[]', ADVISORY_MACHINE_VERSION)).toThrow(IncompatibleSnapshotError);
    expect(() => restoreAdvisorySnapshot({ status: 'active', value: 'advising', children: {} }, ADVISORY_MACHINE_VERSION)).toThrow(
      'its context has no advisors or steps',
    );
  });

  it('throws IncompatibleSnapshotError for a state the machine does not have', () => {
    const renamed = { ...sample.snapshot, value: { advising: { claude: 'succeeded', mistral: 'sleeping', llama: 'running' } } };
    expect(() => restoreAdvisorySnapshot(renamed, ADVISORY_MACHINE_VERSION)).toThrow(IncompatibleSnapshotError);
    const missingBranch = { ...sample.snapshot, value: { advising: { claude: 'succeeded' } } };
    expect(() => restoreAdvisorySnapshot(missingBranch, ADVISORY_MACHINE_VERSION)).toThrow('is incomplete');
  });

  it('throws IncompatibleSnapshotError for a child actor the machine does not provide', () => {
    const foreign = { ...sample.snapshot, children: { 'advise.llama': { snapshot: { status: 'active' }, src: 'callBedrock' } } };
    expect(() => restoreAdvisorySnapshot(foreign, ADVISORY_MACHINE_VERSION)).toThrow('child advise.llama is not a runStep or waitUntil actor');
  });

  it('migrates an advisory/1 snapshot whose reviews all failed: the chair gets no empty ranking', async () => {
    const v1 = files.find(({ name }) => name === join('advisory-1', 'synthesizing.json'))?.file as CorpusFile;
    const snapshot = structuredClone(v1.snapshot) as CorpusFile['snapshot'] & { context: Record<string, unknown> };
    snapshot.context.aggregate = { ranking: [], agreement: {} };
    snapshot.context.rankings = {};
    const restored = restoreAdvisorySnapshot(JSON.stringify(snapshot), 'advisory/1');
    expect((restored.snapshot as unknown as { context: Record<string, unknown> }).context.aggregate).toBeUndefined();
    // A ranking that exists is kept as it was.
    const kept = restoreAdvisorySnapshot(JSON.stringify(v1.snapshot), 'advisory/1');
    expect((kept.snapshot as unknown as { context: { aggregate: unknown } }).context.aggregate).toEqual((v1.snapshot as unknown as { context: { aggregate: unknown } }).context.aggregate);
  });

  it('returns the job input recorded in the snapshot', () => {
    const restored = restoreAdvisorySnapshot(JSON.stringify(sample.snapshot), ADVISORY_MACHINE_VERSION);
    expect(restored.input).toEqual(sample.input);
  });
});
