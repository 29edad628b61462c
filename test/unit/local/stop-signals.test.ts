import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { SAME_KEYPRESS_MS, onStopSignals, type SignalSource } from '../../../services/local/stop-signals.js';

/** Signals delivered by hand, on a clock the test moves. */
function fakeProcess(): SignalSource & { send(signal: NodeJS.Signals, atMs: number): void } {
  const emitter = new EventEmitter();
  let now = 0;
  return {
    on: (signal, listener) => emitter.on(signal, listener),
    off: (signal, listener) => emitter.off(signal, listener),
    now: () => now,
    send(signal, atMs) {
      now = atMs;
      emitter.emit(signal, signal);
    },
  };
}

function record() {
  const seen: string[] = [];
  return { seen, handlers: { stop: (s: NodeJS.Signals) => void seen.push(`stop ${s}`), force: (s: NodeJS.Signals) => void seen.push(`force ${s}`) } };
}

describe('onStopSignals', () => {
  it('stops once for one Ctrl-C that arrives from the terminal and again relayed by npm', () => {
    const source = fakeProcess();
    const { seen, handlers } = record();
    onStopSignals(handlers, source);
    source.send('SIGINT', 1000);
    source.send('SIGINT', 1004);
    source.send('SIGINT', 1031);
    expect(seen).toEqual(['stop SIGINT']);
  });

  it('forces on a second press after the first one’s relays', () => {
    const source = fakeProcess();
    const { seen, handlers } = record();
    onStopSignals(handlers, source);
    source.send('SIGINT', 1000);
    source.send('SIGINT', 1002);
    source.send('SIGINT', 1000 + SAME_KEYPRESS_MS + 500);
    expect(seen).toEqual(['stop SIGINT', 'force SIGINT']);
  });

  it('treats SIGTERM and SIGHUP like Ctrl-C', () => {
    for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
      const source = fakeProcess();
      const { seen, handlers } = record();
      onStopSignals(handlers, source);
      source.send(signal, 0);
      expect(seen).toEqual([`stop ${signal}`]);
    }
  });

  it('stops listening when removed', () => {
    const source = fakeProcess();
    const { seen, handlers } = record();
    onStopSignals(handlers, source)();
    source.send('SIGINT', 0);
    expect(seen).toEqual([]);
  });
});
