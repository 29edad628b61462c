import { afterEach, describe, expect, it, vi } from 'vitest';
import type { JobView } from '../contracts';
import { fakeSockets } from '../test/fake-network';
import { JOB_ID, delta, jobView, started, viewMessage } from '../test/fixtures';
import { JobLive, type LiveState } from './job-live';

/** A JobLive over fake sockets, published when the test says a frame has passed. */
function setup(options: { online?: boolean; heartbeatMs?: number; fetchView?: () => Promise<JobView> } = {}) {
  const sockets = fakeSockets();
  const frames: (() => void)[] = [];
  const published: LiveState[] = [];
  const events = new EventTarget();
  let online = options.online ?? true;
  const live = new JobLive({
    jobId: JOB_ID,
    wsUrl: 'ws://ws.test/local',
    token: () => 'token-alice',
    fetchView: options.fetchView ?? (async () => jobView()),
    openSocket: sockets.open,
    schedule: (fn) => frames.push(fn),
    onPublish: (_prev, next) => published.push(next),
    events: events as unknown as Window,
    isOnline: () => online,
    ...(options.heartbeatMs ? { heartbeatMs: options.heartbeatMs } : {}),
  });
  const frame = () => frames.splice(0).forEach((fn) => fn());
  const setOnline = (value: boolean) => {
    online = value;
    events.dispatchEvent(new Event(value ? 'online' : 'offline'));
  };
  return { live, sockets, frame, published, setOnline };
}

afterEach(() => vi.useRealTimers());

describe('JobLive', () => {
  it('publishes a burst of streamed text once per animation frame', async () => {
    const { live, sockets, frame, published } = setup();
    live.start();
    const socket = sockets.last();
    socket.open();
    socket.push(viewMessage(jobView()), started());
    const text = 'The circle weighs every option carefully. ';
    for (let i = 0; i < 100; i++) socket.push(delta('advise.claude', i * text.length, text));
    expect(published).toHaveLength(0);
    frame();
    expect(published).toHaveLength(1);
    expect(published[0]!.stream.texts['advise.claude#1']).toBe(text.repeat(100));
    frame();
    expect(published).toHaveLength(1);
    live.stop();
  });

  it('shows the connection lost while offline and reconnects as soon as the browser is back online', () => {
    const { live, sockets, setOnline } = setup();
    live.start();
    sockets.last().open();
    sockets.last().push(viewMessage(jobView()), started());
    setOnline(false);
    live.store.flush();
    expect(live.store.get().connection).toBe('reconnecting');
    expect(sockets.all).toHaveLength(1);
    setOnline(true);
    expect(sockets.all).toHaveLength(2);
    sockets.last().open();
    expect(sockets.last().sent).toEqual([{ action: 'subscribe', jobId: JOB_ID, afterSeq: 1 }]);
    live.stop();
  });

  it('starts offline without a socket and connects when the network returns', () => {
    const { live, sockets, setOnline } = setup({ online: false });
    live.start();
    live.store.flush();
    expect(live.store.get().connection).toBe('reconnecting');
    expect(sockets.all).toHaveLength(0);
    setOnline(true);
    expect(sockets.all).toHaveLength(1);
    live.stop();
  });

  it('replaces a socket that stopped answering (a laptop lid closed) and backs off between attempts', () => {
    vi.useFakeTimers();
    const { live, sockets } = setup({ heartbeatMs: 1000 });
    live.start();
    sockets.last().open();
    vi.advanceTimersByTime(1000);
    expect(sockets.last().sent).toContainEqual({ action: 'ping' });
    vi.advanceTimersByTime(2000);
    expect(sockets.all[0]!.closedByClient).toBe(true);
    // The first reconnect waits a little, the next ones longer.
    vi.advanceTimersByTime(199);
    expect(sockets.all).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sockets.all).toHaveLength(2);
    sockets.last().drop();
    vi.advanceTimersByTime(399);
    expect(sockets.all).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(sockets.all).toHaveLength(3);
    live.stop();
  });

  it('stops, with a reason, when the server refuses the job', () => {
    const { live, sockets } = setup();
    live.start();
    sockets.last().open();
    sockets.last().push({ type: 'error', code: 'not_found', message: 'No such job among yours.', jobId: JOB_ID });
    live.store.flush();
    expect(live.store.get()).toMatchObject({ connection: 'refused', problem: expect.stringMatching(/No such job among yours/) as unknown as string });
    expect(sockets.last().closedByClient).toBe(true);
    live.stop();
  });

  it('fetches the whole view when the job ends, and closes the socket', async () => {
    const fetched: number[] = [];
    const finished = { ...jobView(), status: 'succeeded' as const, stage: 'done' as const, seq: 1, adviceQuality: 'complete' as const };
    const { live, sockets } = setup({ fetchView: async () => (fetched.push(fetched.length), fetched.length > 1 ? finished : jobView()) });
    live.start();
    sockets.last().open();
    sockets.last().push(viewMessage(jobView()), started(), { type: 'job.done', jobId: JOB_ID, seq: 2, status: 'succeeded' });
    sockets.last().push({ type: 'job.transition', jobId: JOB_ID, seq: 2, transition: { jobId: JOB_ID, seq: 2, at: 0, event: 'job.succeeded', status: 'succeeded', stage: 'done', changes: [] } });
    await vi.waitFor(() => expect(fetched.length).toBe(2));
    live.store.flush();
    expect(live.store.get().connection).toBe('ended');
    expect(sockets.last().closedByClient).toBe(true);
    live.stop();
  });
});
