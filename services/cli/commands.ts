/**
 * The commands of `npm run ask`. Each returns the exit code: 0 done, 1 the job failed or
 * was cancelled (or the API refused), 130 detached from a followed job with Ctrl-C.
 */
import type { Writable } from 'node:stream';
import type { CancelAccepted, ChatAccepted, ChatRequestBody, JobsPage, RedriveAccepted } from '../shared/contracts/api.js';
import type { JobView } from '../shared/contracts/job.js';
import type { JobTimeline } from '../shared/contracts/timeline.js';
import { isJobId, type Command } from './cli-args.js';
import { ApiRefusedError, CliError } from './errors.js';
import { JobFollower } from './job-follower.js';
import { createRenderer, renderJobsPage, renderJobView, type Hint } from './render.js';
import type { Session } from './session.js';
import { clean, oneLine, type Style } from './terminal-text.js';
import { renderTimeline } from './timeline.js';

export const EXIT_DETACHED = 130;

export interface Io {
  out: Writable & { columns?: number; isTTY?: boolean };
  err: Writable;
  style: Style;
  /** Resolves on the first Ctrl-C (SIGINT) after it is called. */
  interrupted(): Promise<void>;
}

type Run<C> = (command: C, session: Session, io: Io) => Promise<number>;
type JobCommand = Extract<Command, { jobId: string }>;

/** `npm run ask -- <command>` as the person would type it again, --user included if they gave it. */
export const hintFor = (session: Session): Hint => (command) => `npm run ask --${session.userFlag !== undefined ? ` --user ${session.userFlag}` : ''} ${command}`;

const json = (io: Io, value: unknown) => {
  // JSON.stringify escapes C0 controls; C1 controls and line separators are escaped too, so no terminal acts on them.
  const text = JSON.stringify(value, null, 2).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  io.out.write(`${text}\n`);
};

/** GET /jobs/{id}, with a 404 that says whose jobs were searched. */
async function jobView(session: Session, jobId: string): Promise<JobView> {
  try {
    return await session.api<JobView>('GET', `/jobs/${encodeURIComponent(jobId)}`);
  } catch (err) {
    if (err instanceof ApiRefusedError && err.status === 404) throw new CliError(`no job ${jobId} among ${session.who}’s jobs`);
    throw err;
  }
}

/** Follows a job live until it ends, or until Ctrl-C detaches (the job goes on). */
async function follow(session: Session, io: Io, jobId: string, question: string | undefined, asJson: boolean): Promise<number> {
  const hint = hintFor(session);
  const render = asJson ? undefined : createRenderer(io.out, io.style, hint);
  if (question !== undefined) render?.submitted(jobId, question);
  const follower = new JobFollower({ wsUrl: session.wsUrl, jobId, token: () => session.token(), onEvent: (e) => render?.event(e) });
  const outcome = await Promise.race([follower.follow().then(() => 'ended' as const), io.interrupted().then(() => 'detached' as const)]);
  if (outcome === 'detached') {
    follower.close();
    render?.interrupt();
    io.err.write(
      `\nDetached from job ${jobId}; it goes on without you.\n  follow it again: ${hint(`attach ${jobId}`)}\n  cancel it:       ${hint(`cancel ${jobId}`)}\n`,
    );
    return EXIT_DETACHED;
  }
  const view = await jobView(session, jobId);
  if (asJson) json(io, view);
  else render?.finished(view);
  return view.status === 'succeeded' ? 0 : 1;
}

const ask: Run<Extract<Command, { name: 'ask' }>> = async (command, session, io) => {
  const body: ChatRequestBody = {
    question: command.question,
    mode: command.quick ? 'quick' : 'full',
    ...(command.advisors ? { advisors: command.advisors } : {}),
    ...(command.conversationId ? { conversationId: command.conversationId } : {}),
  };
  const { jobId } = await session.api<ChatAccepted>('POST', '/chat', body);
  if (!isJobId(jobId)) throw new CliError('the API answered without a job id');
  return follow(session, io, jobId, command.question, command.json);
};

const attach: Run<JobCommand> = async (command, session, io) => {
  const view = await jobView(session, command.jobId);
  return follow(session, io, command.jobId, view.question, command.json);
};

const show: Run<JobCommand> = async (command, session, io) => {
  const view = await jobView(session, command.jobId);
  if (command.json) json(io, view);
  else io.out.write(renderJobView(view, io.style, hintFor(session)));
  return view.status === 'failed' || view.status === 'cancelled' ? 1 : 0;
};

const list: Run<Extract<Command, { name: 'list' }>> = async (command, session, io) => {
  const query = new URLSearchParams();
  if (command.limit !== undefined) query.set('limit', String(command.limit));
  if (command.cursor !== undefined) query.set('cursor', command.cursor);
  const page = await session.api<JobsPage>('GET', `/jobs${query.size ? `?${query}` : ''}`);
  if (command.json) json(io, page);
  else io.out.write(renderJobsPage(page, io.style, hintFor(session), { width: io.out.isTTY ? io.out.columns : undefined, limit: command.limit }));
  return 0;
};

/** POST /jobs/{id}/<action>: a 404 says whose jobs were searched, a 409 that there was nothing to do and why. */
async function actOnJob<T>(session: Session, jobId: string, action: 'cancel' | 'redrive'): Promise<T> {
  try {
    return await session.api<T>('POST', `/jobs/${encodeURIComponent(jobId)}/${action}`);
  } catch (err) {
    if (err instanceof ApiRefusedError && err.status === 404) throw new CliError(`no job ${jobId} among ${session.who}’s jobs`);
    if (err instanceof ApiRefusedError && err.status === 409) throw new CliError(`nothing to ${action}: ${oneLine(err.message)}`);
    throw err;
  }
}

const cancel: Run<JobCommand> = async (command, session, io) => {
  const accepted = await actOnJob<CancelAccepted>(session, command.jobId, 'cancel');
  if (command.json) json(io, accepted);
  else io.out.write(`Cancelling job ${command.jobId}: the circle is stopping.\n${io.style.dim(`see how it ended: ${hintFor(session)(`show ${command.jobId}`)}`)}\n`);
  return 0;
};

/** Runs a failed job's failed steps again, then follows it like attach. */
const redrive: Run<JobCommand> = async (command, session, io) => {
  await actOnJob<RedriveAccepted>(session, command.jobId, 'redrive');
  if (!command.json) io.err.write(`Redriving job ${command.jobId}: the steps that failed run again; the others are kept.\n`);
  return attach(command, session, io);
};

const timeline: Run<JobCommand> = async (command, session, io) => {
  let answer: JobTimeline;
  try {
    answer = await session.api<JobTimeline>('GET', `/jobs/${encodeURIComponent(command.jobId)}/timeline`);
  } catch (err) {
    if (err instanceof ApiRefusedError && err.status === 404) throw new CliError(`no job ${command.jobId} among ${session.who}’s jobs`);
    throw err;
  }
  if (command.json) json(io, answer);
  else io.out.write(clean(renderTimeline(answer)));
  return 0;
};

const whoami: Run<Extract<Command, { name: 'whoami' }>> = async (command, session, io) => {
  if (command.json) json(io, { user: session.who, how: session.how, apiUrl: session.apiUrl, wsUrl: session.wsUrl });
  else io.out.write(`${oneLine(session.who)}\n`);
  return 0;
};

/** Runs a parsed command (not `help`). */
export function runCommand(command: Exclude<Command, { name: 'help' }>, session: Session, io: Io): Promise<number> {
  switch (command.name) {
    case 'ask':
      return ask(command, session, io);
    case 'attach':
      return attach(command, session, io);
    case 'show':
      return show(command, session, io);
    case 'list':
      return list(command, session, io);
    case 'cancel':
      return cancel(command, session, io);
    case 'redrive':
      return redrive(command, session, io);
    case 'timeline':
      return timeline(command, session, io);
    case 'whoami':
      return whoami(command, session, io);
  }
}
