/** The real clock and randomness, for composition roots. */
import { randomUUID, randomInt } from 'node:crypto';
import type { Clock, Ids } from './ports/clock.js';

export const systemClock: Clock = { now: () => Date.now() };

export const cryptoIds: Ids = {
  jobId: () => randomUUID(),
  random: () => randomInt(0, 2 ** 48) / 2 ** 48,
};
