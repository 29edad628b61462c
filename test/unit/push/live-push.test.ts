import { describe, expect, it } from 'vitest';
import { LivePush } from '../../../services/worker/live-push.js';
import type { ConnectionRecord, ConnectionStore, Subscriber } from '../../../services/shared/ports/connection-store.js';
import type { PushGateway } from '../../../services/shared/ports/push-gateway.js';
import type { ServerMessage } from '../../../services/shared/contracts/ws.js';
import type { TransitionRecord } from '../../../services/shared/contracts/job.js';
import { GoneError } from '../../../services/shared/errors.js';
import { PushThrottledError } from '../../../services/shared/adapters/aws/apigw-push-gateway.js';
import { silentLogger } from '../../../services/shared/logging.js';

class MemoryConnections implements ConnectionStore {
  readonly subs = new Map<string, Subscriber[]>();
  readonly removed: string[] = [];
  async put(_c: ConnectionRecord) {}
  async get() {
    return undefined;
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
  async post(connectionId: string, data: string) {
    if (this.gone.has(connectionId)) throw new GoneError(connectionId);
    if (this.throttleNext > 0) {
      this.throttleNext--;
      throw new PushThrottledError(connectionId);
    }
    this.received.set(connectionId, [...(this.received.get(connectionId) ?? []), JSON.parse(data) as ServerMessage]);
  }
  async disconnect() {}
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
});
