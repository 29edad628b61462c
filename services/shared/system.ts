/** The real clock and randomness, for composition roots. */
import { randomInt } from 'node:crypto';
import type { Clock, Ids } from './ports/clock.js';

export const systemClock: Clock = { now: () => Date.now() };

export const cryptoIds: Ids = {
  // randomInt's range must stay below 2^48.
  random: () => randomInt(0, 2 ** 47) / 2 ** 47,
};
