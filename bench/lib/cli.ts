/** What every bench script does at its edges: read a numeric setting, run, and exit with a readable failure. */

/** A positive whole number from an environment variable, else `fallback`. */
export function positiveInt(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

/** Runs `main` and exits: 0 when it resolves, 1 with `<name> failed: <stack>` on stderr when it throws. */
export function runBench(name: string, main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
