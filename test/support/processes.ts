/** Process checks for tests: is a PID still alive, and waiting until it is gone. */

import { processExists } from '../../services/local/processes.js';

/** True while a process with this PID exists. */
export const processAlive = processExists;

/** Resolves once none of `pids` exists any more; rejects with the survivors after `timeoutMs`. */
export async function waitUntilGone(pids: readonly number[], timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = pids.filter(processAlive);
    if (alive.length === 0) return;
    if (Date.now() > deadline) throw new Error(`processes still alive after ${timeoutMs} ms: ${alive.join(', ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
