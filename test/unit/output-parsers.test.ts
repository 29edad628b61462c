import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ModelCallError } from '../../services/shared/errors.js';
import type { ModelResponse } from '../../services/shared/ports/model-client.js';
import { parseLooseJson } from '../../services/worker/loose-json.js';
import { capText, cleanModelText } from '../../services/worker/model-text.js';
import { readReview } from '../../services/worker/review-parser.js';
import { interpretResponse } from '../../services/worker/step-output.js';
import { readSynthesis } from '../../services/worker/synthesis-parser.js';

const AB = ['A', 'B'];
const review = (text: string, labels = AB) => readReview({ text }, labels);

describe('readReview', () => {
  it('reads plain JSON', () => {
    expect(review('{"ranking":["B","A"],"critiques":{"A":"thin","B":"solid"}}')).toEqual({
      ok: true,
      value: { kind: 'review', ranking: ['B', 'A'], critiques: { A: 'thin', B: 'solid' } },
    });
  });

  it.each([
    ['JSON in a code fence with prose around it', 'Here is my review:\n\n```json\n{\n  "ranking": ["B", "A"],\n  "critiques": {"A": "ok {really}", "B": "weak"}\n}\n```\nHope this helps!'],
    ['JSON then prose', '{"ranking":["B","A"],"critiques":{"A":"x","B":"y"}} Overall B wins.'],
    ['single quotes', "{'ranking': ['B', 'A'], 'critiques': {'A': 'it\\'s thin', 'B': 'solid'}}"],
    ['smart quotes', '{\u201cranking\u201d: [\u201cB\u201d, \u201cA\u201d], \u201ccritiques\u201d: {\u201cA\u201d: \u201cx\u201d}}'],
    ['bare keys and trailing commas', '{ranking: ["B", "A",], critiques: {A: "x", B: "y",},}'],
    ['labels written "Response B"', '{"ranking":["Response B","Response A"],"critiques":{"Response A":"x"}}'],
    ['labels written "B)"', '{"ranking":["B)","A)"],"critiques":{}}'],
    ['labels written "**B**"', '{"ranking":["**B**","**A**"],"critiques":{"**A**":"x"}}'],
    ['a ranking as a string', '{"ranking":"B > A","critiques":{"A":"x","B":"y"}}'],
    ['a ranking of objects', '{"ranking":[{"label":"B"},{"label":"A"}],"critiques":[{"label":"A","critique":"x"}]}'],
    ['keys in other case', '{"Ranking":["B","A"],"Critiques":{"A":"x"}}'],
    ['an unrelated object first', 'Scores: {"A": 3} then {"ranking":["B","A"],"critiques":{"A":"x","B":"y"}}'],
    ['a duplicated label', '{"ranking":["B","B"],"critiques":{"A":"x","B":"y"}}'],
    ['an unknown label in place of one', '{"ranking":["B","Z"],"critiques":{"A":"x","B":"y"}}'],
    ['terminal escapes around it', '\u001b[1m{"ranking":["B","A"],"critiques":{"A":"x","B":"y"}}\u001b[0m\u0007'],
  ])('reads %s', (_case, text) => {
    const read = review(text);
    expect(read.ok && read.value.ranking).toEqual(['B', 'A']);
  });

  it('keeps a review with a critique left out, and drops critiques of labels it was not shown', () => {
    const read = review('{"ranking":["A","B"],"critiques":{"A":"x","D":"z"}}');
    expect(read).toEqual({ ok: true, value: { kind: 'review', ranking: ['A', 'B'], critiques: { A: 'x' } } });
  });

  it('reads a tool call’s input, and falls back to the text when the input is unusable', () => {
    expect(readReview({ text: '', toolInput: { ranking: ['B', 'A'], critiques: { A: 'x', B: 'y' } } }, AB)).toMatchObject({ ok: true, value: { ranking: ['B', 'A'] } });
    expect(readReview({ text: '{"ranking":["A","B"],"critiques":{}}', toolInput: { verdict: 'A' } }, AB)).toMatchObject({ ok: true, value: { ranking: ['A', 'B'] } });
    expect(readReview({ text: '', toolInput: { verdict: 'A' } }, AB)).toMatchObject({ ok: false, problem: expect.stringMatching(/no "ranking"/) });
  });

  it.each([
    ['no JSON at all', 'I think A is better.', /contains no JSON object/],
    ['an empty reply', '  ', /the reply is empty/],
    ['broken JSON', '{"ranking": ["A", "B"], "critiques": {', /contains no JSON object|does not parse/],
    ['labels it was not shown', '{"ranking":["1","2"],"critiques":{}}', /leaves out A, B; it names "1", "2", which are not labels/],
    ['no ranking', '{"critiques":{"A":"x","B":"y"}}', /no "ranking"/],
    ['keys in another language', '{"Rangfolge":"A vor B","Kritik":"gut"}', /no "ranking"/],
  ])('says what is wrong with %s, in words a repair prompt can quote', (_case, text, problem) => {
    const read = review(text);
    expect(read.ok).toBe(false);
    if (!read.ok) expect(read.problem).toMatch(problem);
  });

  it('needs all but at most one label, which then ranks last', () => {
    expect(review('{"ranking":["C"],"critiques":{}}', ['A', 'B', 'C'])).toMatchObject({ ok: false, problem: expect.stringMatching(/leaves out A, B/) });
    expect(review('{"ranking":["C","A"],"critiques":{}}', ['A', 'B', 'C'])).toMatchObject({ ok: true, value: { ranking: ['C', 'A', 'B'] } });
  });

  it('ends in a review of exactly its labels or a problem, whatever the model wrote', () => {
    const junk = fc.oneof(
      fc.string(),
      fc.json(),
      fc.record({ ranking: fc.array(fc.oneof(fc.constantFrom('A', 'B', 'C', 'a', 'Response A', 'B)'), fc.string()), { maxLength: 5 }), critiques: fc.dictionary(fc.string(), fc.anything()) }).map((o) => JSON.stringify(o)),
    );
    fc.assert(
      fc.property(junk, fc.option(fc.anything(), { nil: undefined }), (text, toolInput) => {
        const read = readReview({ text, toolInput }, AB);
        if (read.ok) expect([...read.value.ranking].sort()).toEqual(AB);
        else expect(read.problem.length).toBeGreaterThan(5);
      }),
      { numRuns: 500 },
    );
  });
});

describe('readSynthesis', () => {
  const good = [
    '## Recommendation',
    'Pilot the four-day week for one quarter.',
    '',
    '## Where the circle agrees',
    '- Claude and Mistral both favour a pilot.',
    '',
    '## Where the circle disagrees',
    '- Llama wants the contracts checked first.',
    '',
    '## Confidence',
    'Medium: the direction is shared but the evidence is thin.',
  ].join('\n');

  it('reads the four sections', () => {
    expect(readSynthesis(good)).toEqual({
      ok: true,
      value: {
        kind: 'synthesis',
        recommendation: 'Pilot the four-day week for one quarter.',
        agreement: '- Claude and Mistral both favour a pilot.',
        dissent: '- Llama wants the contracts checked first.',
        confidence: 'medium',
      },
    });
  });

  it.each([
    ['bold inline headings in a code fence', '```markdown\n**Recommendation:** Pilot it.\n**Agreement:** All like it.\n**Dissent:** None.\n**Confidence:** HIGH, all agree.\n```', 'high'],
    ['"Final recommendation:" lines', 'Final recommendation: Pilot it.\n\nWhere they agree: A pilot.\n\nWhere they differ: Pace.\n\nConfidence: low, little evidence.', 'low'],
    ['bold-only lines with other words', '**Bottom line**\nPilot it.\n\n**Consensus**\nA pilot.\n\n**Tensions**\nPace.\n\n**Confidence**\nModerate.', 'medium'],
    ['numbered heading lines', '1. Recommendation\nPilot it.\n\n2. Where the circle agrees\nA pilot.\n\n3. Where the circle disagrees\nPace.\n\n4. Confidence\nhigh', 'high'],
    ['"Confidence: 7/10"', good.replace('Medium: the direction', '7/10: the direction'), 'high'],
    ['"Confidence: 40%"', good.replace('Medium: the direction', '40% — the direction'), 'medium'],
    ['no confidence at all', good.replace(/## Confidence[\s\S]*$/, ''), 'unstated'],
    ['a confidence in words it does not know', good.replace('Medium: the direction', 'Fairly sure: the direction'), 'unstated'],
  ])('reads %s', (_case, text, confidence) => {
    const read = readSynthesis(text);
    expect(read.ok).toBe(true);
    if (read.ok) {
      expect(read.value.recommendation).toMatch(/Pilot/);
      expect(read.value.confidence).toBe(confidence);
    }
  });

  it('takes the text before the first other section as the recommendation when it has no heading', () => {
    const read = readSynthesis('Pilot it for a quarter.\n\n## Where the circle agrees\nA pilot.\n\n## Confidence\nhigh');
    expect(read).toMatchObject({ ok: true, value: { recommendation: 'Pilot it for a quarter.', confidence: 'high' } });
  });

  it('does not mistake prose that starts with a section word for a heading', () => {
    const text = good.replace('Pilot the four-day week for one quarter.', 'Pilot it.\nConfidence in the pilot is growing among staff.');
    expect(readSynthesis(text)).toMatchObject({ ok: true, value: { recommendation: 'Pilot it.\nConfidence in the pilot is growing among staff.' } });
  });

  it.each([
    ['plain prose', 'I would pilot it, probably.', /none of the four sections/],
    ['a refusal', "I'm not able to give advice on this.", /none of the four sections/],
    ['an empty reply', '', /the reply is empty/],
    ['headings in another language', '## Empfehlung\nPilotieren.\n\n## Zuversicht\nmittel', /none of the four sections/],
  ])('says what is wrong with %s', (_case, text, problem) => {
    const read = readSynthesis(text);
    expect(read.ok).toBe(false);
    if (!read.ok) expect(read.problem).toMatch(problem);
  });

  it('ends in sections or a problem, whatever the chair wrote', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 2000 }), (text) => {
        const read = readSynthesis(text);
        if (read.ok) {
          expect(read.value.recommendation.trim()).not.toBe('');
          expect(['high', 'medium', 'low', 'unstated']).toContain(read.value.confidence);
        } else expect(read.problem).toBeTruthy();
      }),
      { numRuns: 500 },
    );
  });
});

describe('interpretResponse', () => {
  const response = (over: Partial<ModelResponse>): ModelResponse => ({ text: '', usage: { inputTokens: 1, outputTokens: 1 }, stopReason: 'end_turn', ...over });

  it.each([
    ['guardrail_intervened', 'Model.GuardrailIntervened', 'the content guardrail blocked this answer'],
    ['content_filtered', 'Model.ContentFiltered', 'the model\u2019s content filter blocked this answer'],
  ])('fails a step whose answer stopped with %s, with a reason a person can read', (stopReason, errorName, message) => {
    for (const kind of ['advise', 'review', 'synthesize'] as const) {
      let thrown: unknown;
      try {
        interpretResponse(kind, response({ stopReason, text: 'Sorry, the model cannot answer this question.' }), AB);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(ModelCallError);
      expect(thrown).toMatchObject({ errorName, message });
    }
  });

  it('keeps an answer cut at max_tokens and marks it truncated', () => {
    expect(interpretResponse('advise', response({ text: 'Go ahead, but', stopReason: 'max_tokens' }), [])).toEqual({ text: 'Go ahead, but', truncated: true });
  });

  it('counts an empty answer as unusable, for every step', () => {
    for (const kind of ['advise', 'review', 'synthesize'] as const) {
      expect(interpretResponse(kind, response({ text: ' \n' }), AB)).toMatchObject({ problem: 'the answer is empty' });
    }
  });

  it('stores the tool call’s input after the text, as it streamed, and reads the review from it', () => {
    const read = interpretResponse('review', response({ stopReason: 'tool_use', toolUse: { name: 'submit_review', inputText: '{"ranking":["B","A"],"critiques":{}}', input: { ranking: ['B', 'A'], critiques: {} } } }), AB);
    expect(read).toMatchObject({ text: '{"ranking":["B","A"],"critiques":{}}', parsed: { ranking: ['B', 'A'] } });
  });

  it('says a review cut at its token limit was cut', () => {
    const read = interpretResponse('review', response({ text: '{"ranking":["B",', stopReason: 'max_tokens' }), AB);
    expect(read.problem).toMatch(/cut off at the token limit/);
  });
});

describe('model text', () => {
  it('loses control characters and escape sequences but keeps text, tabs and newlines', () => {
    expect(cleanModelText('\u001b[31mred\u001b[0m\tok\r\nnext\u0000\u0007\u009b line \ud800')).toBe('red\tok\nnext line \ufffd');
  });

  it('caps a long text on a word boundary and says how much was left out', () => {
    const capped = capText('word '.repeat(100), 52);
    expect(capped).toMatch(/^(word ){9}word\n\[… \d+ more characters not shown\]$/);
  });

  it('reads near-JSON', () => {
    expect(parseLooseJson("{'a': 'it\\'s', b: [1, 2,],}")).toEqual({ a: "it's", b: [1, 2] });
    expect(parseLooseJson('not json')).toBeUndefined();
  });
});
