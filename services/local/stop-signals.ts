/**
 * Ctrl-C for the local tools (`npm start`, `npm run worker`). A terminal sends SIGINT to
 * its whole foreground process group, and npm forwards the signal it received to its child
 * as well, so one keypress reaches us two or three times within milliseconds. The first
 * SIGINT, SIGTERM or SIGHUP starts the ordered stop; repeats within SAME_KEYPRESS_MS are the
 * same keypress and change nothing; one after that is the person pressing again, and forces.
 */

/** Long enough for every relay of one keypress, far shorter than a person reading "stopping" and pressing again. */
export const SAME_KEYPRESS_MS = 1000;

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export interface StopHandlers {
  /** The first signal: stop in order. */
  stop(signal: NodeJS.Signals): void;
  /** A signal after the first one's relays: exit at once. */
  force(signal: NodeJS.Signals): void;
}

/** What the handlers listen on and read the time from (the process and its monotonic clock by default). */
export interface SignalSource {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  now(): number;
}

const processSource: SignalSource = {
  on: (signal, listener) => process.on(signal, listener),
  off: (signal, listener) => process.off(signal, listener),
  now: () => performance.now(),
};

/** Installs the handlers; returns a function that removes them. */
export function onStopSignals(handlers: StopHandlers, source: SignalSource = processSource, windowMs = SAME_KEYPRESS_MS): () => void {
  let firstAt: number | undefined;
  const listener = (signal: NodeJS.Signals): void => {
    const now = source.now();
    if (firstAt === undefined) {
      firstAt = now;
      handlers.stop(signal);
    } else if (now - firstAt >= windowMs) {
      handlers.force(signal);
    }
  };
  for (const signal of STOP_SIGNALS) source.on(signal, listener);
  return () => {
    for (const signal of STOP_SIGNALS) source.off(signal, listener);
  };
}
