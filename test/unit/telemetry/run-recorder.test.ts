import { describe, expect, it, vi } from 'vitest';
import type { RunRecord } from '../../../services/shared/contracts/timeline.js';
import type { RunRecordStore } from '../../../services/shared/ports/index.js';
import { END_WRITE_DELAY_MS, MAX_RUN_EVENTS, MODEL_CALLS_WRITE_MS, RunRecorder } from '../../../services/worker/telemetry/run-recorder.js';
import { memoryLogger } from '../api-memory-ports.js';

const base = { jobId: 'job-1', epoch: 3, startedAt: 1000, fromVersion: 0, expiresAt: 0 };
const call = (attempt: number) => ({ stepId: 'advise.claude', attempt, advisorId: 'claude', modelId: 'm', startedAt: 1, ms: 2, outcome: 'ok', inputTokens: 1, outputTokens: 2, costUsd: 0 });

/** A store whose writes wait until released, recording what each write held and how many overlapped. */
class SlowStore implements RunRecordStore {
  readonly written: RunRecord[] = [];
  inFlight = 0;
  maxInFlight = 0;
  fail = false;
  private releases: (() => void)[] = [];

  async put(record: RunRecord): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise<void>((r) => this.releases.push(r));
    this.inFlight--;
    if (this.fail) throw new Error('ProvisionedThroughputExceededException');
    this.written.push(record);
  }
  async list(): Promise<RunRecord[]> {
    return this.written;
  }
  release(): void {
    for (const r of this.releases.splice(0)) r();
  }
  async settle(): Promise<void> {
    for (let i = 0; i < 10; i++) {
      this.release();
      await new Promise((r) => setTimeout(r, 0));
    }
  }
}

/** A recorder on fake timers whose first write (the lease) has landed. */
async function startedOnFakeTimers(): Promise<{ store: SlowStore; recorder: RunRecorder }> {
  const store = new SlowStore();
  const recorder = new RunRecorder(base, store, memoryLogger().logger);
  await vi.advanceTimersByTimeAsync(0);
  store.release();
  await vi.advanceTimersByTimeAsync(0);
  return { store, recorder };
}

describe('RunRecorder', () => {
  it('writes the run at once, never two writes at a time, and the newest state last', async () => {
    const store = new SlowStore();
    const recorder = new RunRecorder(base, store, memoryLogger().logger);
    recorder.modelCall(call(1));
    recorder.modelCall(call(2));
    recorder.commit({ seq: 1, at: 5, ms: 3 });
    const idle = recorder.idle();
    await store.settle();
    await idle;
    expect(store.maxInFlight).toBe(1);
    // The first write (the lease) went out alone; the changes made meanwhile in one more.
    expect(store.written.map((r) => r.modelCalls.length)).toEqual([0, 2]);
    expect(store.written.at(-1)).toMatchObject({ ...base, commits: [{ seq: 1, at: 5, ms: 3 }] });
  });

  it('logs a failed write and writes again on the next change', async () => {
    const store = new SlowStore();
    const log = memoryLogger();
    store.fail = true;
    const recorder = new RunRecorder(base, store, log.logger);
    await store.settle();
    expect(log.lines().some((l) => l.includes('run record not written') && l.includes('"run":3'))).toBe(true);
    store.fail = false;
    recorder.modelCall(call(1));
    const idle = recorder.idle();
    await store.settle();
    await idle;
    expect(store.written.at(-1)?.modelCalls).toHaveLength(1);
  });

  it('writes the end after a short delay so the last pushes are in it', async () => {
    vi.useFakeTimers();
    try {
      const { store, recorder } = await startedOnFakeTimers();
      recorder.end('finished', 2000);
      recorder.push(7, 1990, 12, false);
      recorder.push(7, 1990, 20, false);
      expect(store.inFlight).toBe(0);
      await vi.advanceTimersByTimeAsync(END_WRITE_DELAY_MS);
      store.release();
      await vi.advanceTimersByTimeAsync(0);
      expect(store.written.at(-1)).toMatchObject({ outcome: 'finished', endedAt: 2000, pushes: [{ seq: 7, at: 1990, ms: 20, connections: 2, gone: 0 }] });
    } finally {
      vi.useRealTimers();
    }
  });

  it('writes the model calls of a stage in one write, within MODEL_CALLS_WRITE_MS of the first', async () => {
    vi.useFakeTimers();
    try {
      const { store, recorder } = await startedOnFakeTimers();
      recorder.modelCall(call(1));
      await vi.advanceTimersByTimeAsync(MODEL_CALLS_WRITE_MS / 2);
      recorder.modelCall(call(2));
      recorder.modelCall(call(3));
      expect(store.inFlight).toBe(0);
      await vi.advanceTimersByTimeAsync(MODEL_CALLS_WRITE_MS / 2);
      expect(store.inFlight).toBe(1);
      store.release();
      await vi.advanceTimersByTimeAsync(0);
      // The lease at once, then the three calls together: a killed run still shows them.
      expect(store.written.map((r) => r.modelCalls.length)).toEqual([0, 3]);
      recorder.modelCall(call(4));
      recorder.end('finished', 5000);
      await vi.advanceTimersByTimeAsync(END_WRITE_DELAY_MS);
      store.release();
      await vi.advanceTimersByTimeAsync(MODEL_CALLS_WRITE_MS);
      expect(store.inFlight).toBe(0);
      // The end's write carries the last call; nothing is written after it.
      expect(store.written.map((r) => r.modelCalls.length)).toEqual([0, 3, 4]);
      expect(store.written.at(-1)).toMatchObject({ outcome: 'finished' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('keeps at most MAX_RUN_EVENTS events and says it left some out', async () => {
    const store = new SlowStore();
    const recorder = new RunRecorder(base, store, memoryLogger().logger);
    for (let i = 0; i < MAX_RUN_EVENTS + 5; i++) recorder.commit({ seq: i + 1, at: i, ms: 1 });
    const record = recorder.snapshot();
    expect(record.commits).toHaveLength(MAX_RUN_EVENTS);
    expect(record.truncated).toBe(true);
    // Far below DynamoDB's 400 KB item limit even then.
    expect(Buffer.byteLength(JSON.stringify(record))).toBeLessThan(100 * 1024);
    await store.settle();
  });
});
