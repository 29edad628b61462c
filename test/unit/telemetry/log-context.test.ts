import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../services/shared/logging.js';
import { addToLogContext, joinLogContext, logCorrelated, withLogContext } from '../../../services/shared/telemetry/log-context.js';
import { NOOP_SPAN, NO_TRACER } from '../../../services/shared/ports/tracer.js';
import type { Tracer } from '../../../services/shared/ports/tracer.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('cot-test', 'info', stream), lines };
}

describe('log context', () => {
  it('puts the fields of the unit of work on every line, also from timers and promises it starts', async () => {
    const { logger, lines } = capture();
    await withLogContext({ jobId: 'job-1' }, async () => {
      await new Promise((r) => setTimeout(r, 1));
      logger.info('after a timer');
      await withLogContext({ step: 'advise.claude', attempt: 2 }, async () => logger.info({ ms: 3 }, 'model call'));
      logger.info('after the call');
    });
    logger.info('outside');
    expect(lines.map(({ msg, jobId, step, attempt }) => ({ msg, jobId, step, attempt }))).toEqual([
      { msg: 'after a timer', jobId: 'job-1', step: undefined, attempt: undefined },
      { msg: 'model call', jobId: 'job-1', step: 'advise.claude', attempt: 2 },
      { msg: 'after the call', jobId: 'job-1', step: undefined, attempt: undefined },
      { msg: 'outside', jobId: undefined, step: undefined, attempt: undefined },
    ]);
  });

  it('lets a field the call passes win, and still redacts secrets', async () => {
    const { logger, lines } = capture();
    withLogContext({ jobId: 'job-1' }, () => logger.info({ jobId: 'job-2', headers: { authorization: 'Bearer abc.def.ghi' }, token: 'abc.def.ghi' }, 'explicit'));
    expect(lines[0]).toMatchObject({ jobId: 'job-2', headers: { authorization: '[redacted]' }, token: '[redacted]' });
    expect(JSON.stringify(lines)).not.toContain('abc.def.ghi');
  });

  it('adds to the scope it is in: a run names its job on the lines written after it started', () => {
    const { logger, lines } = capture();
    withLogContext({}, () => {
      joinLogContext({ jobId: 'job-3' }, () => logger.info('in the run'));
      logger.info('job leased');
    });
    joinLogContext({ jobId: 'job-4' }, () => logger.info('no scope around it'));
    addToLogContext({ jobId: 'nowhere' });
    logger.info('outside');
    expect(lines.map((l) => l.jobId)).toEqual(['job-3', 'job-3', 'job-4', undefined]);
  });

  it('notes the trace id of each segment in the scope that started it, not in others', async () => {
    const { logger, lines } = capture();
    const traced: Tracer = { ...NO_TRACER, segment: (_name, fn) => fn({ ...NOOP_SPAN, traceId: '1-5f84c7a2-5f84c7a25f84c7a25f84c7a2' }) };
    const tracer = logCorrelated(traced);
    await withLogContext({}, async () => {
      await tracer.segment('cot-api', async () => logger.info('inside'));
      logger.info('access log, after the segment');
    });
    await withLogContext({}, async () => logger.info('another request'));
    expect(lines.map((l) => l.traceId)).toEqual(['1-5f84c7a2-5f84c7a25f84c7a25f84c7a2', '1-5f84c7a2-5f84c7a25f84c7a25f84c7a2', undefined]);
  });
});
