/**
 * `npm run ask -- "question"`: submits a question to the circle and shows it think, live:
 * each advisor's state and streamed answer, the review ranking, then the chair's advice.
 * Exits 0 when the advice is ready, 1 when the job failed or was cancelled, 2 for bad use.
 *
 * Endpoints come from COT_API_URL / COT_WS_URL or .local/stack.json (written by npm start);
 * the token from COT_TOKEN, else a local sign-in as COT_USER (default: your user name).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import type { JobView, TransitionRecord } from '../shared/contracts/job.js';
import { getAccessToken } from '../local/oidc/token-client.js';
import { JobFollower, type FollowEvent } from './job-follower.js';
import { createRenderer } from './render.js';
import { renderTimeline } from './timeline.js';
import type { JobTimeline } from '../shared/contracts/timeline.js';

class UsageError extends Error {
  override name = 'UsageError';
}

interface Endpoints {
  apiUrl: string;
  wsUrl: string;
  oidc?: { issuer: string; audience: string };
}

const USAGE = `usage: npm run ask -- [--quick] [--advisors claude,mistral] [--conversation <id>] [--json] "your question"
       npm run ask -- --timeline <jobId> [--json]`;

async function endpoints(env: NodeJS.ProcessEnv): Promise<Endpoints> {
  let stack: Partial<Endpoints> = {};
  try {
    stack = JSON.parse(await readFile(join(process.cwd(), '.local', 'stack.json'), 'utf8')) as Partial<Endpoints>;
  } catch {
    /* no local stack: env must say where */
  }
  const apiUrl = env.COT_API_URL ?? stack.apiUrl;
  const wsUrl = env.COT_WS_URL ?? stack.wsUrl;
  if (!apiUrl || !wsUrl) throw new UsageError('no stack found: start it with `npm start`, or set COT_API_URL and COT_WS_URL');
  const issuer = env.COT_OIDC_ISSUER ?? stack.oidc?.issuer;
  const audience = env.COT_OIDC_AUDIENCE ?? stack.oidc?.audience;
  return { apiUrl, wsUrl, oidc: issuer && audience ? { issuer, audience } : undefined };
}

function tokenSource(env: NodeJS.ProcessEnv, ep: Endpoints): () => Promise<string> {
  if (env.COT_TOKEN) {
    const token = env.COT_TOKEN;
    return async () => token;
  }
  const oidc = ep.oidc;
  if (!oidc) throw new UsageError('no token: set COT_TOKEN, or start the local stack with `npm start`');
  const user = (env.COT_USER ?? userInfo().username).toLowerCase().replace(/[^a-z0-9._-]/g, '') || 'me';
  let cached: { token: string; at: number } | undefined;
  return async () => {
    // Local tokens live an hour; refresh well before that on a reconnect.
    if (!cached || Date.now() - cached.at > 30 * 60_000) cached = { token: await getAccessToken({ issuer: oidc.issuer, user, audience: oidc.audience }), at: Date.now() };
    return cached.token;
  };
}

async function api<T>(ep: Endpoints, token: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(new URL(path, ep.apiUrl), {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = (await res.json().catch(() => ({}))) as T & { error?: { code: string; message: string } };
  if (!res.ok) throw new Error(json.error ? `${json.error.message} (${json.error.code})` : `the API answered ${res.status}`);
  return json;
}

/** Runs the command; returns the process exit code. */
async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      advisors: { type: 'string' },
      conversation: { type: 'string' },
      timeline: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values.timeline) {
    // A finished (or running) job's timeline: services/cli/timeline.ts.
    const ep = await endpoints(env);
    const timeline = await api<JobTimeline>(ep, await tokenSource(env, ep)(), 'GET', `/jobs/${encodeURIComponent(values.timeline)}/timeline`);
    process.stdout.write(values.json ? `${JSON.stringify(timeline, null, 2)}\n` : renderTimeline(timeline));
    return 0;
  }
  const question = positionals.join(' ').trim();
  if (!question) throw new UsageError(`ask a question.\n${USAGE}`);

  const ep = await endpoints(env);
  const token = tokenSource(env, ep);
  const body = {
    question,
    mode: values.quick ? 'quick' : 'full',
    ...(values.advisors ? { advisors: values.advisors.split(',').map((a) => a.trim()).filter(Boolean) } : {}),
    ...(values.conversation ? { conversationId: values.conversation } : {}),
  };
  const { jobId } = await api<{ jobId: string }>(ep, await token(), 'POST', '/chat', body);

  const render = values.json ? undefined : createRenderer(process.stdout, process.stdout.isTTY === true);
  render?.submitted(jobId, question);
  const follower = new JobFollower({
    wsUrl: ep.wsUrl,
    jobId,
    token,
    onEvent: (e: FollowEvent) => render?.event(e),
  });
  const outcome = await follower.follow();
  const view = await api<JobView>(ep, await token(), 'GET', `/jobs/${encodeURIComponent(jobId)}`);
  if (values.json) process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
  else render?.finished(view, outcome.transitions as TransitionRecord[]);
  return view.status === 'succeeded' ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`ask: ${err.message}\n`);
    // parseArgs reports unknown options as TypeError: a usage problem, like a missing question.
    process.exit(err instanceof UsageError || err.name === 'TypeError' ? 2 : 1);
  },
);
