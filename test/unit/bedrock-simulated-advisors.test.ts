import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readPrompt, type ConverseRequest } from '../../services/local/bedrock/converse-request.js';
import { SimulatedAdvisors } from '../../services/local/bedrock/simulated-advisors.js';
import { keyPhrases, tokenize } from '../../services/local/bedrock/text-kit.js';
import { loadCircle } from '../../services/shared/circle/circle.js';
import { buildAdvicePrompt, buildReviewPrompt, buildSynthesisPrompt, type Prompt } from '../../services/worker/prompts.js';
import { readReview } from '../../services/worker/review-parser.js';
import { readSynthesis } from '../../services/worker/synthesis-parser.js';
import type { ReviewParsed, SynthesisParsed } from '../../services/shared/contracts/job.js';

const parseReview = (text: string, labels: string[]): ReviewParsed => {
  const read = readReview({ text }, labels);
  if (!read.ok) throw new Error(read.problem);
  return read.value;
};
const parseSynthesis = (text: string): SynthesisParsed => {
  const read = readSynthesis(text);
  if (!read.ok) throw new Error(read.problem);
  return read.value;
};

const circle = loadCircle();
const advisors = new SimulatedAdvisors();
const [claude, mistral, llama] = circle.advisors;
if (!claude || !mistral || !llama) throw new Error('the default circle has three advisors');

const asRequest = (p: Prompt): ConverseRequest => ({ system: p.system, messages: p.messages, requestMetadata: {}, inputChars: 0 });
const advise = (member: typeof claude, question: string, history?: { question: string; answer: string }[]): string =>
  advisors.answer(member.modelId, readPrompt(asRequest(buildAdvicePrompt({ persona: member.persona, question, history }))));
const review = (member: typeof claude, question: string, answers: { label: string; text: string }[]): string =>
  advisors.answer(member.modelId, readPrompt(asRequest(buildReviewPrompt({ persona: member.persona, question, answers }))));

const questions = [
  'Should I leave my stable job as an accountant to open a bakery?',
  'Should our startup rewrite its monolith as microservices before we scale?',
  'How can a busy parent learn to cook healthy dinners on weeknights?',
  'Is it worth buying a house this year or should I keep renting?',
  'Should I accept the job offer from a large company or stay at my startup?',
  'How do we scale our engineering team from 5 to 20 people without losing quality?',
  'Should we raise prices for our existing customers?',
  'What should I study if I want to work on climate technology?',
];

describe('SimulatedAdvisors', () => {
  it('answers the same question from the same model with the same text', () => {
    expect(advise(claude, questions[0]!)).toBe(advise(claude, questions[0]!));
  });

  it('gives each persona its own several-paragraph answer that picks up the question', () => {
    const texts = [claude, mistral, llama].map((m) => advise(m, questions[0]!));
    expect(new Set(texts).size).toBe(3);
    for (const text of texts) {
      expect(text.split('\n\n').length).toBeGreaterThanOrEqual(3);
      expect(text).toMatch(/bakery|stable job|accountant/);
    }
    expect(texts[1]).toContain('**First three steps**');
    expect(texts[2]).toContain('**What would change my mind**');
  });

  it('gives a model it does not know a generic voice', () => {
    const text = advisors.answer('cohere.command-r-v1:0', readPrompt(asRequest(buildAdvicePrompt({ persona: 'You are helpful.', question: questions[6]! }))));
    expect(text.length).toBeGreaterThan(200);
    expect(text).not.toBe(advise(claude, questions[6]!));
  });

  it('acknowledges the earlier question in a follow-up', () => {
    const text = advise(claude, 'What if the rent doubles next year?', [{ question: questions[0]!, answer: 'Stage it.' }]);
    expect(text.split('\n\n')[0]).toMatch(/stable job|bakery|accountant/);
  });

  it('answers [[size:N]] with exactly N bytes', () => {
    const text = advise(mistral, 'Explain everything [[size:200000]]');
    expect(Buffer.byteLength(text)).toBe(200_000);
  });

  it('reviews with JSON that parses for exactly the labels it was shown', () => {
    for (const reviewer of [claude, mistral, llama]) {
      for (const labels of [['A', 'B'], ['A', 'B', 'C']]) {
        const answers = labels.map((label, i) => ({ label, text: advise(circle.advisors[i]!, questions[1]!) }));
        const parsed = parseReview(review(reviewer, questions[1]!, answers), labels);
        expect([...parsed.ranking].sort()).toEqual(labels);
      }
    }
  });

  it('has reviewers who usually agree but sometimes disagree', () => {
    let agree = 0;
    let disagree = 0;
    for (const q of questions) {
      const answers = [
        { label: 'A', text: advise(claude, q) },
        { label: 'B', text: advise(llama, q) },
      ];
      const first = (m: typeof claude) => parseReview(review(m, q, answers), ['A', 'B']).ranking[0];
      if (first(mistral) === first(claude)) agree++;
      else disagree++;
    }
    expect(agree).toBeGreaterThan(0);
    expect(disagree).toBeGreaterThan(0);
  });

  it('chairs a synthesis that parses and names the advisors', () => {
    const answers = [claude, mistral, llama].map((m) => ({ advisorName: m.name, text: advise(m, questions[2]!) }));
    const text = advisors.answer(
      circle.chair.modelId,
      readPrompt(asRequest(buildSynthesisPrompt({ chairPersona: circle.chair.persona, question: questions[2]!, answers, mode: 'quick' }))),
    );
    const parsed = parseSynthesis(text);
    expect(parsed.confidence).toBe('medium');
    expect(`${parsed.recommendation}\n${parsed.agreement}\n${parsed.dissent}`).toMatch(/Claude|Mistral|Llama/);
  });

  it('lowers the chair\u2019s confidence when an advisor is missing', () => {
    const answers = [{ advisorName: 'Claude', text: advise(claude, questions[3]!) }];
    const text = advisors.answer(
      circle.chair.modelId,
      readPrompt(asRequest(buildSynthesisPrompt({ chairPersona: circle.chair.persona, question: questions[3]!, answers, mode: 'quick', notes: ['Llama failed'] }))),
    );
    expect(parseSynthesis(text).confidence).toBe('low');
  });
});

describe('text-kit', () => {
  it('splits text into tokens that concatenate to exactly the text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        const tokens = tokenize(text);
        expect(tokens.join('')).toBe(text);
        expect(tokens.every((t) => t.length > 0)).toBe(true);
      }),
    );
  });

  it('turns the asker\u2019s pronouns into the advisor\u2019s', () => {
    expect(keyPhrases('Should I leave my stable job to open a bakery?')).toContain('your stable job');
  });

  it('keeps words of any script whole: no "caf" for "café"', () => {
    expect(keyPhrases('Should our café start opening on Sundays?')).toContain('your café');
    expect(keyPhrases('Should I move to Zürich for a job?').join(' ')).toContain('Zürich');
  });
});
