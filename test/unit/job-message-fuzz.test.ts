/**
 * The worker's parser for SQS message bodies, fuzzed: whatever arrives on the queue (a
 * wake-up `{"jobId"}` from the API, or anything a misconfigured sender or an attacker with
 * queue access puts there), it returns the job message or undefined, and never throws.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parseMessage } from '../../services/worker/job-message.js';
import { fuzzRuns, fuzzTimeout, Tally } from '../support/fuzz.js';

const RUNS = fuzzRuns(2000, 50_000);
const tally = new Tally();
afterAll(() => console.log(tally.line('SQS job message bodies')));

const jobIdLike = fc
  .oneof(fc.uuid(), fc.string({ minLength: 1, maxLength: 100 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }))
  .filter((id) => id.length <= 100);

const bodies = fc.oneof(
  { weight: 3, arbitrary: jobIdLike.map((jobId) => ({ body: JSON.stringify({ jobId }), jobId })) },
  { weight: 2, arbitrary: fc.record({ jobId: fc.anything(), extra: fc.anything() }, { requiredKeys: [] }).map((o) => ({ body: JSON.stringify(o) ?? '' })) },
  { weight: 2, arbitrary: fc.jsonValue().map((v) => ({ body: JSON.stringify(v) })) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 400 }).map((body) => ({ body })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 400 }).map((b) => ({ body: Buffer.from(b).toString('latin1') })) },
  { weight: 1, arbitrary: fc.string({ minLength: 101, maxLength: 300 }).map((jobId) => ({ body: JSON.stringify({ jobId }) })) },
);

describe('the worker message parser', () => {
  it('turns every body into a job message or a clear "not one", never an exception', () => {
    fc.assert(
      fc.property(bodies, ({ body, jobId }: { body: string; jobId?: string }) => {
        let parsed: ReturnType<typeof parseMessage>;
        expect(() => (parsed = parseMessage(body))).not.toThrow();
        if (parsed === undefined) {
          tally.add('not a job message');
          // A well-formed wake-up is never refused.
          expect(jobId).toBeUndefined();
          return;
        }
        tally.add('job message');
        expect(typeof parsed.jobId).toBe('string');
        expect(parsed.jobId.length).toBeGreaterThan(0);
        expect(parsed.jobId.length).toBeLessThanOrEqual(100);
        expect(parsed.jobId).toBe((JSON.parse(body) as { jobId: string }).jobId);
      }),
      { numRuns: RUNS },
    );
  }, fuzzTimeout(RUNS, 5));
});
