/**
 * `npm run ask -- "question"`: asks the circle and shows it think, live: each advisor's
 * state and answer, the review ranking, then the chair's advice. Also `list`, `show`,
 * `attach`, `cancel`, `redrive` and `whoami` (USAGE in cli-args.ts says it all; README documents it).
 * Says who it is signed in as on stderr, so stdout stays the answer (or the JSON).
 */
import { pathToFileURL } from 'node:url';
import { parseCommandLine, USAGE } from './cli-args.js';
import { runCommand, type Io } from './commands.js';
import { UsageError } from './errors.js';
import { openSession } from './session.js';
import { clean, oneLine, styleFor, wantsColor } from './terminal-text.js';

/** Runs the command line; returns the process exit code. */
export async function main(argv: string[], env: Record<string, string | undefined> = process.env): Promise<number> {
  const command = parseCommandLine(argv);
  if (command.name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const session = await openSession(env, command.user);
  const errStyle = styleFor(wantsColor(process.stderr, env));
  process.stderr.write(errStyle.dim(oneLine(`signed in as ${session.who} (${session.how}) · ${session.apiUrl}`)) + '\n');
  const io: Io = {
    out: process.stdout,
    err: process.stderr,
    style: styleFor(wantsColor(process.stdout, env)),
    // Ctrl-C detaches. A terminal's Ctrl-C may reach us twice (from the terminal and relayed
    // by npm/tsx), so the handler stays installed and the first one decides.
    interrupted: () => new Promise((resolve) => process.on('SIGINT', () => resolve())),
  };
  return runCommand(command, session, io);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      process.stderr.write(`ask: ${clean(err.message)}\n`);
      process.exit(err instanceof UsageError ? 2 : 1);
    },
  );
}
