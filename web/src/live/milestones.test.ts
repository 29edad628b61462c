import { describe, expect, it } from 'vitest';
import { finishedView, jobView } from '../test/fixtures';
import { milestones } from './milestones';

describe('milestones', () => {
  it('says the advice is ready when the view with its sections arrives, not at the last transition', () => {
    const synthesizing = jobView({ status: 'running', stage: 'synthesizing' });
    // The terminal transition: succeeded, but the chair's text is not read into sections yet.
    const lastTransition = { ...synthesizing, status: 'succeeded' as const, stage: 'done' as const };
    const whole = finishedView();
    expect(milestones(synthesizing, lastTransition)).not.toContain('The advice is ready.');
    expect(milestones(lastTransition, whole)).toContain('The advice is ready.');
    expect(milestones(whole, { ...whole, seq: whole.seq + 1 })).not.toContain('The advice is ready.');
  });

  it('announces a failure and a cancellation as the transition arrives', () => {
    const running = jobView({ status: 'running', stage: 'advising' });
    expect(milestones(running, { ...running, status: 'failed', stage: 'done', reason: 'Only 1 of 3 advisors answered.' })).toEqual(['The job failed. Only 1 of 3 advisors answered.']);
    expect(milestones(running, { ...running, status: 'cancelled', stage: 'done' })).toEqual(['The job was cancelled.']);
  });
});
