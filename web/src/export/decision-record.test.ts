import { describe, expect, it } from 'vitest';
import { finishedView } from '../test/fixtures';
import { adviceText, decisionRecord, recordFileName } from './decision-record';

describe('decisionRecord', () => {
  it('keeps the question, each answer, the ranking and matrix, the advice, usage and cost', () => {
    const md = decisionRecord(finishedView());
    expect(md).toMatch(/^# Decision record\n/);
    expect(md).toContain('## Question\n\nShould our team of five rewrite the monolith as microservices?');
    expect(md).toContain('### Recommendation\n\nCarve out **billing** as the first service.');
    expect(md).toContain('### Where the circle agrees\n\nNobody wants a big-bang rewrite.');
    expect(md).toContain('### Where the circle disagrees\n\nMistral would rewrite sooner.');
    expect(md).toContain('**Confidence:** Medium');
    expect(md).toContain('### Claude (model.claude)\n\nKeep the monolith; carve out **billing** first.');
    expect(md).toContain('### Llama (model.llama)\n\nMeasure first, then decide.');
    expect(md).toContain('| 1 | Claude | 1.00 | 2 |\n| 2 | Llama | 1.50 | 2 |\n| 3 | Mistral | 2.00 | 2 |');
    expect(md).toContain('| Reviewer | Claude | Mistral | Llama |');
    expect(md).toContain('| Claude | — | 2 | 1 |');
    expect(md).toContain('- **Mistral:** Too eager to rewrite.');
    expect(md).toContain('| Claude | 400 | 40 | $0.0400 |');
    expect(md).toContain('| Chair (chair) | 400 | 40 | $0.0400 |');
    expect(md).toContain('| **Total** | 1,400 | 140 | $0.1400 |');
    // Advice before the deliberation.
    expect(md.indexOf('## Advice')).toBeLessThan(md.indexOf('## Answers'));
  });

  it('keeps table cells whole when model text has pipes and newlines', () => {
    const view = finishedView();
    view.advisors[0]!.review.critiques = { mistral: 'a | b\nc' };
    view.advisors[1] = { ...view.advisors[1]!, name: 'Mis|tral' };
    const md = decisionRecord(view);
    expect(md).toContain('- **Mis|tral:** a \\| b c');
    expect(md).toContain('| Reviewer | Claude | Mis\\|tral | Llama |');
  });

  it('uses streamed text for steps the view has none for, and says what failed', () => {
    const view = finishedView({ status: 'failed', reason: 'Only 1 of 3 advisors answered.', synthesis: undefined, adviceQuality: undefined });
    view.advisors[1] = { ...view.advisors[1]!, answer: { status: 'failed', attempt: 3, error: { error: 'ThrottlingException', cause: 'Rate exceeded' } } };
    view.advisors[2] = { ...view.advisors[2]!, answer: { status: 'succeeded', attempt: 1 } };
    const md = decisionRecord(view, (stepId) => (stepId === 'advise.llama' ? 'Streamed answer.' : undefined));
    expect(md).toContain('_No advice: Only 1 of 3 advisors answered._');
    expect(md).toContain('_Could not answer: ThrottlingException: Rate exceeded_');
    expect(md).toContain('### Llama (model.llama)\n\nStreamed answer.');
    expect(md).toContain('**Why the job failed:** Only 1 of 3 advisors answered.');
  });

  it('marks degraded and simulated advice', () => {
    const md = decisionRecord(finishedView({ adviceQuality: 'unstructured', simulated: true }));
    expect(md).toContain('> The chair’s advice could not be read into sections; it is shown as written.');
    expect(md).toContain('The advisors were simulated');
  });
});

describe('adviceText', () => {
  it('is the advice alone, sections labelled', () => {
    expect(adviceText(finishedView())).toBe(
      'Recommendation: Carve out **billing** as the first service.\n\nWhere the circle agrees: Nobody wants a big-bang rewrite.\n\nWhere the circle disagrees: Mistral would rewrite sooner.\n\nConfidence: Medium',
    );
  });
});

describe('recordFileName', () => {
  it('names the file by date and question', () => {
    expect(recordFileName(finishedView())).toBe('decision-2026-01-05-should-our-team-of-five-rewrite-the-mono.md');
  });
});
