/**
 * Delay from a token leaving the Bedrock stand-in to a client receiving it: each streamed
 * chunk is matched, by its character position in the step's answer, to the step.delta
 * that carried its last character to the client.
 */
import type { DeltaArrival } from './subscribers.js';
import type { TimedCall } from './timed-bedrock.js';

/** One delay (ms) per emitted chunk that reached the client through a step.delta. */
export function tokenDelays(calls: readonly TimedCall[], deltas: readonly DeltaArrival[]): number[] {
  const byStep = new Map<string, DeltaArrival[]>();
  for (const d of deltas) {
    const list = byStep.get(d.step) ?? [];
    list.push(d);
    byStep.set(d.step, list);
  }
  const delays: number[] = [];
  for (const call of calls) {
    const received = byStep.get(`${call.step}#${call.attempt}`)?.sort((a, b) => a.offset - b.offset);
    if (!received) continue;
    let i = 0;
    let previousEnd = 0;
    for (const emission of call.emissions) {
      if (emission.end === previousEnd) continue; // an empty chunk carries no token
      previousEnd = emission.end;
      const last = emission.end - 1;
      while (i < received.length && (received[i] as DeltaArrival).end <= last) i++;
      const delta = received[i];
      if (delta && delta.offset <= last) delays.push(delta.at - emission.at);
    }
  }
  return delays;
}
