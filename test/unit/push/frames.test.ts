import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FrameDecoder, encodeFrames, packFrames } from '../../../services/shared/push/frames.js';
import type { ServerMessage } from '../../../services/shared/contracts/ws.js';
import { MAX_FRAME_BYTES } from '../../../services/shared/contracts/ws.js';

const delta = (text: string): ServerMessage => ({ type: 'step.delta', jobId: 'j', stepId: 'advise.claude', attempt: 1, offset: 0, text });

function roundTrip(frames: string[]): ServerMessage[] {
  const decoder = new FrameDecoder();
  return frames.flatMap((f) => decoder.decode(f));
}

describe('encodeFrames', () => {
  it('sends a small message as one frame, unchanged', () => {
    const frames = encodeFrames(delta('hello'));
    expect(frames).toHaveLength(1);
    expect(JSON.parse(frames[0]!)).toEqual(delta('hello'));
  });

  it('splits a 200 KB answer into frames of at most 32 KB that join back exactly', () => {
    const text = 'The circle weighs every option carefully. '.repeat(5000);
    const message = delta(text);
    const frames = encodeFrames(message);
    expect(frames.length).toBeGreaterThan(6);
    for (const f of frames) expect(Buffer.byteLength(f, 'utf8')).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    expect(roundTrip(frames)).toEqual([message]);
  });

  it('keeps any text, including multi-byte characters and quotes, whole within the limit', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 0, maxLength: 3000 }), fc.integer({ min: 300, max: 2000 }), (text, max) => {
        const frames = encodeFrames(delta(text), max);
        for (const f of frames) expect(Buffer.byteLength(f, 'utf8')).toBeLessThanOrEqual(max);
        expect(roundTrip(frames)).toEqual([delta(text)]);
      }),
      { numRuns: 150 },
    );
  });
});

describe('packFrames', () => {
  it('packs small messages into one array frame, in order', () => {
    const messages = ['a', 'b', 'c'].map(delta);
    const frames = packFrames(messages);
    expect(frames).toHaveLength(1);
    expect(JSON.parse(frames[0]!)).toEqual(messages);
    expect(roundTrip(frames)).toEqual(messages);
  });

  it('keeps every frame within the limit and the order across arrays and chunks', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ minLength: 0, maxLength: 900 }), { maxLength: 30 }), (texts) => {
        const messages = texts.map(delta);
        const frames = packFrames(messages, 1000);
        for (const f of frames) expect(Buffer.byteLength(f, 'utf8')).toBeLessThanOrEqual(1000);
        expect(roundTrip(frames)).toEqual(messages);
      }),
      { numRuns: 150 },
    );
  });
});
