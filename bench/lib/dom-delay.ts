/**
 * Delay from a token leaving the Bedrock stand-in to its text being in the page's DOM: each
 * streamed delta of a scripted answer (numbered words) is matched to the first moment the
 * page's panel for that advisor showed its last word, and to the step.delta that brought
 * its last character to the page's WebSocket (the network part of the delay).
 */
import { lastWordIn, type DeltaReceived, type WordSeen } from './page-probes.js';
import type { TimedCall } from './timed-bedrock.js';

export interface DomDelays {
  /** Stand-in → DOM, one per delta that reached the page's DOM (ms). */
  delays: number[];
  /** Stand-in → the page's WebSocket, one per delta that arrived as a step.delta (ms). */
  socket: number[];
  /** The page's WebSocket → DOM, one per delta that did both (ms). */
  render: number[];
  /** Deltas written by the stand-in for the matched calls. */
  emitted: number;
}

/**
 * `calls` are one job's model calls (timed in the bench's clock), `seen` what the page that
 * watched the job noted (page clock); `offsets` turn both into wall-clock ms. `advisorOf`
 * names the advisor of an advise step as the page shows it (`advise.claude` → `Claude`).
 */
export function domDelays(
  calls: readonly TimedCall[],
  page: { words: readonly WordSeen[]; deltas: readonly DeltaReceived[] },
  answer: string,
  advisorOf: (step: string) => string | undefined,
  offsets: { page: number; local: number },
): DomDelays {
  const out: DomDelays = { delays: [], socket: [], render: [], emitted: 0 };
  const since = (pageAt: number, emittedAt: number): number => pageAt + offsets.page - (emittedAt + offsets.local);
  for (const call of calls) {
    const advisor = call.kind === 'advise' && call.outcome === 'ok' ? advisorOf(call.step) : undefined;
    if (!advisor) continue;
    const shown = page.words.filter(([name]) => name === advisor);
    const arrived = page.deltas.filter(([step]) => step === `${call.step}#${call.attempt}`).sort((a, b) => a[1] - b[1]);
    let i = 0;
    let j = 0;
    let previous = 0;
    for (const emission of call.emissions) {
      const word = lastWordIn(answer.slice(0, emission.end));
      if (word === previous) continue; // whitespace only: nothing new to see
      previous = word;
      out.emitted++;
      while (i < shown.length && shown[i]![1] < word) i++;
      const first = shown[i];
      if (first) out.delays.push(since(first[2], emission.at));
      while (j < arrived.length && arrived[j]![1] < emission.end) j++;
      const delta = arrived[j];
      if (delta) out.socket.push(since(delta[2], emission.at));
      if (first && delta) out.render.push(first[2] - delta[2]);
    }
  }
  return out;
}
