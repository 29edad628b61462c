import { describe, expect, it } from 'vitest';
import { loadWorkerConfig } from '../../services/shared/config.js';
import { ConfigError } from '../../services/shared/errors.js';

const QUEUE = { COT_JOB_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/cot-jobs' };

describe('loadWorkerConfig', () => {
  it('defaults to a lease that lapses with the message, renewed three times per lease', () => {
    const c = loadWorkerConfig(QUEUE);
    expect(c.leaseMs).toBe(6_000);
    expect(c.visibilitySeconds * 1000).toBe(c.leaseMs);
    expect(c.heartbeatMs).toBe(2_000);
    // A received message is hidden for two heartbeats until its job is leased.
    expect(c.receiveVisibilitySeconds).toBe(4);
    // In whole seconds, as SQS takes them, whatever fraction the heartbeat is.
    expect(loadWorkerConfig({ ...QUEUE, COT_HEARTBEAT_SECONDS: '0.3' }).receiveVisibilitySeconds).toBe(1);
    expect(c.pollWaitSeconds).toBe(5);
    expect(c.maxStalledRuns).toBe(5);
    // The redrive is a backstop far beyond the runs that decide poison.
    expect(c.maxReceiveCount).toBe(100);
  });

  it('reads the stalled-run limit and refuses a heartbeat that could miss the lease', () => {
    expect(loadWorkerConfig({ ...QUEUE, COT_MAX_STALLED_RUNS: '2' }).maxStalledRuns).toBe(2);
    expect(() => loadWorkerConfig({ ...QUEUE, COT_MAX_STALLED_RUNS: '0' })).toThrow(/COT_MAX_STALLED_RUNS/);
    expect(() => loadWorkerConfig({ ...QUEUE, COT_HEARTBEAT_SECONDS: '4' })).toThrow(ConfigError);
    expect(() => loadWorkerConfig({ ...QUEUE, COT_LEASE_SECONDS: '30', COT_HEARTBEAT_SECONDS: '6' })).toThrow(/COT_VISIBILITY_SECONDS/);
  });
});
