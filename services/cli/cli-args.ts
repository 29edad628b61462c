/**
 * The command line of `npm run ask`: a question (the default command) or one of the
 * commands below, with the options each takes. Pure: parses, never prints.
 */
import { parseArgs } from 'node:util';
import { UsageError } from './errors.js';

export const USAGE = `usage: npm run ask -- [options] "your question"   ask the circle and follow it live
       npm run ask -- list [--limit N] [--cursor C]   your jobs, newest first, a page at a time
       npm run ask -- show <job-id>                   one job: answers, ranking, advice
       npm run ask -- attach <job-id>                 follow a running job live (or show a finished one)
       npm run ask -- cancel <job-id>                 cancel one of your jobs
       npm run ask -- redrive <job-id>                run a failed job's failed steps again, and follow it
       npm run ask -- timeline <job-id>               what happened when: waits, model calls, retries, cost
       npm run ask -- whoami                          who you are signed in as, and where

options:
  --user <name>          sign in to the local stack as <name> (default: $COT_USER, else alice)
  --quick                ask in quick mode: answers and synthesis, no reviews
  --advisors <a,b>       ask only these advisors (ids from GET /advisors)
  --conversation <id>    continue one of your conversations (the id a previous answer printed)
  --limit <n>            list: jobs per page, 1 to 100 (default 20)
  --cursor <c>           list: the next page, as the previous page printed it
  --json                 print JSON (the job view, the page, the API's answer) instead of text
  -h, --help             print this help

Ctrl-C while following a job detaches and exits 130: the job goes on; attach or cancel it later.
Exit codes: 0 done (the advice is ready), 1 the job failed or was cancelled, or a request was
refused, 2 bad usage, 130 detached with Ctrl-C.
Environment: COT_USER, COT_TOKEN (a bearer token instead of a local sign-in), COT_API_URL and
COT_WS_URL (default: from .local/stack.json), NO_COLOR.`;

export const COMMANDS = ['list', 'show', 'attach', 'cancel', 'redrive', 'timeline', 'whoami'] as const;
export type CommandName = 'ask' | (typeof COMMANDS)[number];

export interface Options {
  user?: string;
  json: boolean;
}

export type Command =
  | { name: 'help' }
  | ({ name: 'ask'; question: string; quick: boolean; advisors?: string[]; conversationId?: string } & Options)
  | ({ name: 'list'; limit?: number; cursor?: string } & Options)
  | ({ name: 'show' | 'attach' | 'cancel' | 'redrive' | 'timeline'; jobId: string } & Options)
  | ({ name: 'whoami' } & Options);

/** Options that belong to one command only; anything else is shared. */
const ONLY: Record<string, CommandName> = { quick: 'ask', advisors: 'ask', conversation: 'ask', limit: 'list', cursor: 'list' };

/** Job ids are UUIDs (what POST /chat answers). */
const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isJobId = (value: unknown): value is string => typeof value === 'string' && JOB_ID.test(value);

const quoteHint = (name: string) => `To ask a question that starts with "${name}", quote it whole: npm run ask -- "${name} …"`;

export function parseCommandLine(argv: string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        user: { type: 'string' },
        json: { type: 'boolean', default: false },
        quick: { type: 'boolean' },
        advisors: { type: 'string' },
        conversation: { type: 'string' },
        limit: { type: 'string' },
        cursor: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) return { name: 'help' };

  // A first word that names a command is that command; a question that starts with one is quoted whole.
  const first = positionals[0];
  const name: CommandName = (COMMANDS as readonly string[]).includes(first ?? '') ? (first as CommandName) : 'ask';
  const args = name === 'ask' ? positionals : positionals.slice(1);
  for (const [option, owner] of Object.entries(ONLY)) {
    if (values[option as keyof typeof values] !== undefined && owner !== name) throw new UsageError(`--${option} is for ${owner === 'ask' ? 'asking a question' : owner}, not ${name}.\n\n${USAGE}`);
  }
  const options: Options = { json: values.json, ...(values.user !== undefined ? { user: values.user } : {}) };

  switch (name) {
    case 'ask': {
      const question = args.join(' ').trim();
      if (!question) throw new UsageError(`ask a question.\n\n${USAGE}`);
      const advisors = values.advisors?.split(',').map((a) => a.trim()).filter(Boolean);
      if (values.advisors !== undefined && !advisors?.length) throw new UsageError('--advisors needs advisor ids, e.g. --advisors claude,mistral');
      return {
        name,
        question,
        quick: values.quick === true,
        ...(advisors ? { advisors } : {}),
        ...(values.conversation !== undefined ? { conversationId: values.conversation } : {}),
        ...options,
      };
    }
    case 'list': {
      if (args.length > 0) throw new UsageError(`list takes no arguments (got "${args[0]}"). ${quoteHint(name)}`);
      const limit = values.limit === undefined ? undefined : Number(values.limit);
      if (limit !== undefined && (!/^\d+$/.test(values.limit!) || limit < 1 || limit > 100)) throw new UsageError('--limit must be a whole number from 1 to 100');
      return { name, ...(limit !== undefined ? { limit } : {}), ...(values.cursor !== undefined ? { cursor: values.cursor } : {}), ...options };
    }
    case 'show':
    case 'attach':
    case 'cancel':
    case 'redrive':
    case 'timeline': {
      const [jobId, extra] = args;
      if (!jobId || extra !== undefined) throw new UsageError(`${name} takes one job id: npm run ask -- ${name} <job-id>`);
      if (!isJobId(jobId)) {
        throw new UsageError(`"${jobId}" is not a job id (they look like 3f0c2a6e-…; npm run ask -- list shows yours). ${quoteHint(name)}`);
      }
      return { name, jobId: jobId.toLowerCase(), ...options };
    }
    case 'whoami':
      if (args.length > 0) throw new UsageError(`whoami takes no arguments. ${quoteHint(name)}`);
      return { name, ...options };
  }
}
