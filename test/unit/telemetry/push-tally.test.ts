import { afterEach, describe, expect, it, vi } from 'vitest';
import { EmfMetrics } from '../../../services/shared/adapters/aws/emf-metrics.js';
import { METRIC } from '../../../services/shared/contracts/telemetry.js';
import { PushTally } from '../../../services/worker/telemetry/push-tally.js';
import { emfValues, parseEmf, sum } from '../../support/telemetry.js';

function tally() {
  const lines: string[] = [];
  const emf = new EmfMetrics({ namespace: 'CircleOfTrust', service: 'cot-worker', write: (line) => void lines.push(line) });
  return { tally: new PushTally(emf, 1000), emf, events: () => lines.map(parseEmf) };
}

describe('PushTally', () => {
  afterEach(() => void vi.useRealTimers());

  it('writes a second of pushes as one line: their sums and the latencies it times', async () => {
    vi.useFakeTimers();
    const { tally: t, emf, events } = tally();
    for (let i = 0; i < 40; i++) t.add('ok', i % 4 === 0 ? 10 + i : undefined);
    t.add('gone');
    await emf.flush();
    expect(events()).toEqual([]);
    vi.advanceTimersByTime(1000);
    await emf.flush();
    expect(events()).toHaveLength(1);
    expect(events()[0]).toMatchObject({ Pushes: 40, PushGone: 1 });
    expect(emfValues(events(), METRIC.pushLatency)).toHaveLength(10);
    vi.advanceTimersByTime(5000);
    await emf.flush();
    expect(events()).toHaveLength(1);
  });

  it('writes at once when 100 latencies are waiting, and flush() writes the rest', async () => {
    const { tally: t, emf, events } = tally();
    for (let i = 0; i < 130; i++) t.add('ok', i);
    await emf.flush();
    expect(events()).toHaveLength(1);
    t.flush();
    await emf.flush();
    expect(sum(emfValues(events(), METRIC.pushes))).toBe(130);
    expect(sum(emfValues(events(), METRIC.pushLatency))).toBe(sum(Array.from({ length: 130 }, (_, i) => i)));
  });
});
