import { describe, expect, it } from 'vitest';
import { EmfMetrics } from '../../../services/shared/adapters/aws/emf-metrics.js';
import { METRIC } from '../../../services/shared/contracts/telemetry.js';
import { emfValues, parseEmf, sum } from '../../support/telemetry.js';

function metrics() {
  const lines: string[] = [];
  const errors: unknown[] = [];
  const emf = new EmfMetrics({ namespace: 'CircleOfTrust', service: 'cot-worker', write: (line) => void lines.push(line), onError: (err) => errors.push(err) });
  return { emf, lines, errors };
}

describe('EmfMetrics', () => {
  it('writes one EMF line per record, with the service on every dimension set and its properties', async () => {
    const { emf, lines } = metrics();
    emf.record([{ name: METRIC.modelCalls, value: 1 }, { name: METRIC.modelLatency, value: 812 }, { name: METRIC.cost, value: 0.0042 }], [{}, { Advisor: 'claude' }], { jobId: 'job-1', attempt: 2 });
    await emf.flush();
    expect(lines).toHaveLength(1);
    const event = parseEmf(lines[0]!);
    expect(event).toMatchObject({ Service: 'cot-worker', Advisor: 'claude', jobId: 'job-1', attempt: 2, ModelCalls: 1, ModelLatency: 812, CostUsd: 0.0042 });
    const [directive, ...others] = event._aws.CloudWatchMetrics;
    expect(others).toEqual([]);
    expect(directive).toMatchObject({ Namespace: 'CircleOfTrust', Dimensions: [['Service'], ['Service', 'Advisor']] });
    expect([...directive!.Metrics].sort((a, b) => a.Name.localeCompare(b.Name))).toEqual([
      { Name: 'CostUsd', Unit: 'None' },
      { Name: 'ModelCalls', Unit: 'Count' },
      { Name: 'ModelLatency', Unit: 'Milliseconds' },
    ]);
  });

  it('splits many values of one metric over lines CloudWatch accepts, losing none', async () => {
    const { emf, lines } = metrics();
    const values = Array.from({ length: 250 }, (_, i) => ({ name: METRIC.pushLatency, value: i }));
    emf.record(values);
    await emf.flush();
    const events = lines.map(parseEmf);
    expect(events.length).toBeGreaterThan(1);
    for (const e of events) expect((e.PushLatency as number[]).length).toBeLessThanOrEqual(100);
    expect(sum(emfValues(events, METRIC.pushLatency))).toBe(sum(values.map((v) => v.value)));
  });

  it('drops a value CloudWatch would reject, reports it, and never throws on the job path', async () => {
    const { emf, lines, errors } = metrics();
    expect(() => emf.record([{ name: METRIC.modelLatency, value: Number.NaN }])).not.toThrow();
    await emf.flush();
    expect(lines).toEqual([]);
    expect(errors).toHaveLength(1);
  });
});
