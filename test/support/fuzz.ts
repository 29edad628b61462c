/**
 * How many cases a fuzz property runs: COT_FUZZ_RUNS when set; otherwise the full count
 * under `npm run fuzz` (COT_FUZZ=full) and the reduced one in `npm test` and CI.
 */
export function fuzzRuns(reduced: number, full: number): number {
  const explicit = Number(process.env.COT_FUZZ_RUNS);
  if (Number.isInteger(explicit) && explicit > 0) return explicit;
  return process.env.COT_FUZZ === 'full' ? full : reduced;
}

/** Counts outcomes by label, for the line each suite prints. */
export class Tally {
  private readonly counts = new Map<string, number>();
  total = 0;

  add(label: string): void {
    this.total += 1;
    this.counts.set(label, (this.counts.get(label) ?? 0) + 1);
  }

  /** e.g. "fuzz POST /chat: 300 cases (202: 41, 400 invalid_request: 180, …)" */
  line(name: string): string {
    const parts = [...this.counts.entries()].sort((a, b) => b[1] - a[1]).map(([label, n]) => `${label}: ${n}`);
    return `fuzz ${name}: ${this.total} cases (${parts.join(', ')})`;
  }
}

/** A test timeout for `runs` cases of about `perCaseMs` each, on top of the usual minute. */
export function fuzzTimeout(runs: number, perCaseMs: number): number {
  return 60_000 + runs * perCaseMs;
}
