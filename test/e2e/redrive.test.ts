/**
 * Redriving through the whole stack: a job fails below quorum because two advisors fail
 * every attempt (the Bedrock stand-in's faults run out as the first run ends, so the
 * advisors have recovered by then); its owner redrives it; only the two failed advisors,
 * and the stages after them, call Bedrock again, and the job ends succeeded with a gapless
 * history that a live client saw whole. Nobody else can redrive it, nor can anyone once it
 * has succeeded.
 */
import { fileURLToPath } from 'node:url';
import { beforeEach, describe, expect, it } from 'vitest';
import type { JobView } from '../../services/shared/contracts/job.js';
import { JobFollower } from '../../services/cli/job-follower.js';
import { withLocalStack } from '../support/local-stack.js';
import { bedrockOf, callsOf, stateOf, submit, transitionsOf, waitForEnd } from '../support/jobs.js';

const TEST_CIRCLE = fileURLToPath(new URL('../../fixtures/circles/test.circle.json', import.meta.url));
const fx = withLocalStack({ workers: 2, env: { COT_CIRCLE_FILE: TEST_CIRCLE } });

beforeEach(() => bedrockOf(fx.stack).reset());

/** The test circle retries an InternalServerException twice: three attempts, all failing. */
const ATTEMPTS_PER_RUN = 3;
const FAILING = ['advise.mistral', 'advise.llama'];

describe('redriving a failed job', () => {
  it('runs only the advisors that failed, never the one that answered, and ends succeeded', async () => {
    const bedrock = bedrockOf(fx.stack);
    const question = 'Should we redrive the warehouse migration after the outage, Rosa?';
    for (const step of FAILING) await bedrock.inject({ type: 'internal', match: { question: 'redrive the warehouse migration', step }, times: ATTEMPTS_PER_RUN });
    const rosa = await fx.client('rosa');
    const jobId = await submit(rosa, { question });

    const failed = await waitForEnd(rosa, jobId);
    expect(failed.status).toBe('failed');
    expect(failed.reason).toMatch(/^Only 1 of 3 advisors answered \(quorum is 2\)/);
    // Every armed fault was used by the first run: the advisors have recovered.
    expect(await bedrock.faults()).toEqual([]);
    const firstCalls = await callsOf(fx.stack, jobId);
    const firstHistory = await transitionsOf(fx.stack, jobId);
    expect(firstCalls.filter((c) => c.requestMetadata.step === 'advise.claude')).toHaveLength(1);

    // Someone else's redrive is the same 404 as for a job that does not exist, and changes nothing.
    const mallory = await (await fx.client('mallory')).post<{ error: { code: string } }>(`/jobs/${jobId}/redrive`);
    expect(mallory.status).toBe(404);
    expect(mallory.body.error.code).toBe('not_found');
    expect(await transitionsOf(fx.stack, jobId)).toEqual(firstHistory);

    const accepted = await rosa.post(`/jobs/${jobId}/redrive`);
    expect(accepted.status).toBe(202);
    expect(accepted.body).toEqual({ jobId, status: 'queued' });
    // A live client that subscribes now follows the job from the redrive to its new end.
    const follower = new JobFollower({ wsUrl: fx.stack.wsUrl, jobId, token: () => fx.tokenFor('rosa') });
    const followed = follower.follow();
    // A second redrive cannot run the job twice.
    const twice = await rosa.post<{ error: { code: string } }>(`/jobs/${jobId}/redrive`);
    expect(twice.status).toBe(409);
    expect(twice.body.error.code).toBe('job_not_failed');

    const view = await waitForEnd(rosa, jobId);
    expect(view.status).toBe('succeeded');
    expect(view.reason).toBeUndefined();
    const advisor = (id: string) => view.advisors.find((a) => a.id === id)!;
    expect(advisor('claude').answer).toMatchObject({ status: 'succeeded', attempt: 1 });
    for (const id of ['mistral', 'llama']) expect(advisor(id).answer).toMatchObject({ status: 'succeeded', attempt: ATTEMPTS_PER_RUN + 1 });
    expect(view.synthesis?.status).toBe('succeeded');

    // Bedrock saw only the failed advisors again (their next attempt), then the reviews and the chair.
    const calls = await callsOf(fx.stack, jobId);
    const redriven = calls.slice(firstCalls.length);
    expect(calls.slice(0, firstCalls.length).map((c) => c.seq)).toEqual(firstCalls.map((c) => c.seq));
    expect(redriven.filter((c) => c.kind === 'advise').map((c) => `${c.requestMetadata.step}#${c.requestMetadata.attempt}`).sort()).toEqual(['advise.llama#4', 'advise.mistral#4']);
    expect(redriven.filter((c) => c.requestMetadata.step === 'advise.claude')).toEqual([]);
    expect(new Set(redriven.filter((c) => c.kind === 'review').map((c) => c.requestMetadata.step))).toEqual(new Set(['review.claude', 'review.mistral', 'review.llama']));
    expect(redriven.filter((c) => c.kind === 'synthesize').length).toBeGreaterThan(0);

    // The history goes on from the failure, gapless: the redrive, the new run, its end.
    const history = await transitionsOf(fx.stack, jobId);
    expect(history.map((t) => t.seq)).toEqual(history.map((_, i) => i + 1));
    expect(history.slice(0, firstHistory.length)).toEqual(firstHistory);
    expect(history[firstHistory.length]).toMatchObject({ event: 'job.redriven', status: 'queued', stage: 'queued' });
    expect(history[firstHistory.length + 1]).toMatchObject({ event: 'job.started', status: 'running', stage: 'advising' });
    expect(history.at(-1)).toMatchObject({ event: 'job.succeeded', status: 'succeeded' });
    expect(history.filter((t) => t.status === 'succeeded')).toHaveLength(1);

    // The live client saw the job come back to running and end succeeded, missing nothing.
    const result = await followed;
    expect(result.status).toBe('succeeded');
    expect(result.transitions.map((t) => t.seq)).toEqual(history.map((t) => t.seq));
    expect(result.transitions.slice(firstHistory.length + 1).some((t) => t.status === 'running')).toBe(true);
    follower.close();

    // Redriving the succeeded job is refused and changes nothing.
    const committed = async () => {
      const { version, snapshot, redriveVersion } = (await stateOf(fx.stack, jobId))!;
      return { version, snapshot, redriveVersion };
    };
    const state = await committed();
    // Read now: the view waitForEnd saw may mix the Jobs item read just before the last commit with the State after it.
    const settled = (await rosa.get<JobView>(`/jobs/${jobId}`)).body;
    const late = await rosa.post<{ error: { code: string; message: string } }>(`/jobs/${jobId}/redrive`);
    expect(late.status).toBe(409);
    expect(late.body.error).toEqual({ code: 'job_not_failed', message: 'only a failed job can be redriven; this one has succeeded' });
    expect(await transitionsOf(fx.stack, jobId)).toEqual(history);
    expect(await committed()).toEqual(state);
    expect((await rosa.get<JobView>(`/jobs/${jobId}`)).body).toEqual(settled);
    expect(await callsOf(fx.stack, jobId)).toHaveLength(calls.length);
  });
});
