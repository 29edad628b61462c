import { describe, expect, it, vi } from 'vitest';
import { LivePush } from '../../../services/worker/live-push.js';
import type { ConnectionRecord, ConnectionStore, Subscriber } from '../../../services/shared/ports/connection-store.js';
import type { PushGateway } from '../../../services/shared/ports/push-gateway.js';
import type { ServerMessage } from '../../../services/shared/contracts/ws.js';
import type { TransitionRecord } from '../../../services/shared/contracts/job.js';
import { GoneError } from '../../../services/shared/errors.js';
import { PushThrottledError } from '../../../services/shared/errors.js';
import { silentLogger } from '../../../services/shared/logging.js';
import { FrameDecoder } from '../../../services/shared/push/frames.js';

class MemoryConnections implements ConnectionStore {
  readonly subs = new Map<string, Subscriber[]>();
  readonly removed: string[] = [];
  async put(_c: ConnectionRecord) {}
  async get() {
    return undefined;
  }
  async countOpen() {
    return 0;
  }
  async remove(id: string) {
    this.removed.push(id);
    for (const [job, list] of this.subs) this.subs.set(job, list.filter((s) => s.connectionId !== id));
  }
  async subscribe(connectionId: string, sub: string, jobId: string) {
    this.subs.set(jobId, [...(this.subs.get(jobId) ?? []), { connectionId, sub }]);
  }
  async unsubscribe() {}
  async subscribers(jobId: string) {
    return this.subs.get(jobId) ?? [];
  }
}

class MemoryGateway implements PushGateway {
  readonly received = new Map<string, ServerMessage[]>();
  gone = new Set<string>();
  throttleNext = 0;
  private readonly decoder = new FrameDecoder();
  /** While set, every post stays in flight until the test opens the gate. */
  private gate?: Promise<void>;
  async post(connectionId: string, data: string) {
    await this.gate;
    if (this.gone.has(connectionId)) throw new GoneError(connectionId);
    if (this.throttleNext > 0) {
      this.throttleNext--;
      throw new PushThrottledError(connectionId);
    }
    this.received.set(connectionId, [...(this.received.get(connectionId) ?? []), ...this.decoder.decode(data)]);
  }
  async disconnect() {}
  /** Holds every post in flight until the returned function is called. */
  hold(): () => void {
    let open!: () => void;
    this.gate = new Promise<void>((resolve) => (open = resolve));
    return () => {
      this.gate = undefined;
      open();
    };
  }
}

const transition = (seq: number, status: TransitionRecord['status'] = 'running'): TransitionRecord => ({
  jobId: 'job-1',
  seq,
  at: seq,
  event: status === 'running' ? 'step.started' : `job.${status}`,
  status,
  stage: status === 'running' ? 'advising' : 'done',
  changes: [],
});

async function setup() {
  const connections = new MemoryConnections();
  const gateway = new MemoryGateway();
  await connections.subscribe('c1', 'alice', 'job-1');
  await connections.subscribe('c2', 'alice', 'job-1');
  const push = new LivePush(connections, gateway, silentLogger(), { batchMs: 20, subscriberTtlMs: 0 });
  return { connections, gateway, push };
}

describe('LivePush', () => {
  it('delivers transitions in order, deltas batched between them, and job.done last', async () => {
    const { gateway, push } = await setup();
    push.transition(transition(1));
    for (const t of ['The ', 'circle ', 'agrees.']) push.delta('job-1', 'advise.claude', 1, t);
    push.transition(transition(2));
    push.transition(transition(3, 'succeeded'));
    await push.idle();
    for (const conn of ['c1', 'c2']) {
      const got = gateway.received.get(conn)!;
      expect(got.map((m) => m.type)).toEqual(['job.transition', 'step.delta', 'job.transition', 'job.transition', 'job.done']);
      const d = got[1] as Extract<ServerMessage, { type: 'step.delta' }>;
      expect(d).toMatchObject({ text: 'The circle agrees.', offset: 0, stepId: 'advise.claude' });
    }
  });

  it('says a job is delivered only once its job.done has reached every subscriber', async () => {
    const { gateway, push } = await setup();
    const release = gateway.hold();
    push.transition(transition(1));
    push.transition(transition(2, 'succeeded'));
    let delivered = false;
    const waiting = push.delivered('job-1').then(() => (delivered = true));
    await new Promise((resolve) => setTimeout(resolve, 30));
    // The worker keeps the job's message while this is pending.
    expect(delivered).toBe(false);
    release();
    await waiting;
    for (const conn of ['c1', 'c2']) expect(gateway.received.get(conn)!.at(-1)).toMatchObject({ type: 'job.done', seq: 2 });
    // A job with nothing in flight is delivered at once.
    await push.delivered('job-2');
  });

  it('gives each delta batch the offset of its text within the step output', async () => {
    const { gateway, push } = await setup();
    push.delta('job-1', 'advise.claude', 1, 'Hello ');
    await push.idle();
    push.delta('job-1', 'advise.claude', 1, 'world');
    await push.idle();
    const deltas = gateway.received.get('c1')!.filter((m) => m.type === 'step.delta');
    expect(deltas.map((d) => [d.offset, d.text])).toEqual([
      [0, 'Hello '],
      [6, 'world'],
    ]);
  });

  it('removes a gone connection and keeps serving the others', async () => {
    const { connections, gateway, push } = await setup();
    gateway.gone.add('c1');
    push.transition(transition(1));
    push.transition(transition(2));
    await push.idle();
    expect(connections.removed).toEqual(['c1']);
    expect(gateway.received.get('c2')!.map((m) => (m as { seq: number }).seq)).toEqual([1, 2]);
    expect(push.stats.gone).toBe(1);
  });

  it('retries throttled posts with back-off without losing or reordering messages', async () => {
    const { gateway, push } = await setup();
    gateway.throttleNext = 3;
    push.transition(transition(1));
    push.transition(transition(2));
    await push.idle();
    for (const conn of ['c1', 'c2']) {
      expect(gateway.received.get(conn)!.map((m) => (m as { seq: number }).seq)).toEqual([1, 2]);
    }
    expect(push.stats.throttled).toBe(3);
  });

  it('gives a connection that subscribes mid-step the text streamed so far, then the rest', async () => {
    const { connections, gateway, push } = await setup();
    push.transition(transition(1));
    push.delta('job-1', 'advise.claude', 1, 'The circle ');
    await push.idle();
    await connections.subscribe('late', 'alice', 'job-1');
    push.delta('job-1', 'advise.claude', 1, 'agrees.');
    await push.idle();
    const late = gateway.received.get('late')!.filter((m) => m.type === 'step.delta');
    // The catch-up starts at offset 0 (the later delta may be merged into it while queued).
    expect(late[0]!.offset).toBe(0);
    expect(late.map((d) => d.text).join('')).toBe('The circle agrees.');
    // Those who were there from the start get no repeat.
    expect(gateway.received.get('c1')!.filter((m) => m.type === 'step.delta').map((d) => d.text)).toEqual(['The circle ', 'agrees.']);
  });

  it('merges queued deltas of a step while a slow post is in flight, keeping text and order', async () => {
    // Fake timers: each word is its own batch (one batchMs apart), and the first post stays
    // in flight until every batch has been queued behind it.
    vi.useFakeTimers();
    try {
      const { gateway, push } = await setup();
      const release = gateway.hold();
      const words = Array.from({ length: 40 }, (_, i) => `w${i} `);
      push.transition(transition(1));
      for (const w of words) {
        push.delta('job-1', 'advise.claude', 1, w);
        push.delta('job-1', 'advise.llama', 1, w.toUpperCase());
        await vi.advanceTimersByTimeAsync(20);
      }
      push.transition(transition(2));
      release();
      await push.idle();
      for (const conn of ['c1', 'c2']) {
        const got = gateway.received.get(conn)!.map((m) => (m.type === 'step.delta' ? [m.type, m.stepId, m.offset, m.text] : [m.type, (m as { seq: number }).seq]));
        // The 40 batches of each step left as one message carrying all their text, in order.
        expect(got).toEqual([
          ['job.transition', 1],
          ['step.delta', 'advise.claude', 0, words.join('')],
          ['step.delta', 'advise.llama', 0, words.join('').toUpperCase()],
          ['job.transition', 2],
        ]);
      }
    } finally {
      vi.useRealTimers();
    }
  });
});
