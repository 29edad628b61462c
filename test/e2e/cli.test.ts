/**
 * `npm run ask` end to end against the whole local stack, signing in at its OpenID
 * provider: who it is, list, show, attach, cancel, and Ctrl-C detaching from a followed job
 * (sent to the process group, as a terminal sends it, through npm).
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildOpenApiDocument } from '../../services/api/openapi/openapi.document.js';
import { loadCircle } from '../../services/shared/circle/circle.js';
import type { JobsPage } from '../../services/shared/contracts/api.js';
import type { JobView } from '../../services/shared/contracts/job.js';
import { cliEnv as cliEnvOf, withLocalStack } from '../support/local-stack.js';
import { bedrockOf, eventually, stateOf, submit, waitForEnd, waitForView } from '../support/jobs.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const fx = withLocalStack({ workers: 2 });
// Each CLI run starts Node and signs in (a few seconds; more on a busy 2-core machine), and tests make several.
vi.setConfig({ testTimeout: 240_000 });

/** Slow enough that a job is still running while the CLI attaches or detaches (about 10 s). */
const SLOW = { firstTokenDelayMs: 1500, tokenDelayMs: 15 };
afterEach(() => bedrockOf(fx.stack).reset());

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const cliEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => cliEnvOf(fx.stack, extra);

function collect(child: ChildProcessWithoutNullStreams): { run: Promise<Run>; output: () => string } {
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const run = new Promise<Run>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { run, output: () => stdout };
}

/** The CLI as `node services/cli/ask.ts …` (what npm run ask runs), to its end. */
function ask(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/cli/ask.ts', ...args], { cwd: REPO, env: cliEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.end();
  return collect(child).run;
}

async function jobIdOf(user: string, question: string, body: Record<string, unknown> = {}): Promise<string> {
  return submit(await fx.client(user), { question, ...body });
}

describe('npm run ask: identity', () => {
  it('signs in as alice unless --user or COT_USER says otherwise, and says so', async () => {
    const byDefault = await ask(['whoami']);
    expect(byDefault).toMatchObject({ code: 0, stdout: 'alice\n' });
    expect(byDefault.stderr).toMatch(/^signed in as alice \(local sign-in; --user or COT_USER to change\) · http:\/\/127\.0\.0\.1:\d+\n$/);

    expect((await ask(['whoami'], { COT_USER: 'carol' })).stdout).toBe('carol\n');
    const flag = await ask(['--user', 'bob', 'whoami'], { COT_USER: 'carol' });
    expect(flag.stdout).toBe('bob\n');
    expect(flag.stderr).toContain('signed in as bob (local sign-in, --user)');

    const token = await ask(['whoami'], { COT_TOKEN: await fx.tokenFor('dora') });
    expect(token.stdout).toBe('dora\n');
    expect(token.stderr).toContain('the token in COT_TOKEN');
  });

  it('refuses a user name the provider would refuse, and --user with COT_TOKEN, as bad usage', async () => {
    const bad = await ask(['--user', 'Bob Smith', 'whoami']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('"Bob Smith" cannot sign in');
    const both = await ask(['--user', 'bob', 'whoami'], { COT_TOKEN: 'x' });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('COT_TOKEN is set');
  });
});

describe('npm run ask list', () => {
  it('lists only my jobs, newest first, a page at a time, with the command for the next page', async () => {
    const mine = [];
    for (const q of ['First: should I learn the cello?', 'Second: should I learn the oboe?', 'Third: should I learn the harp?']) mine.push(await jobIdOf('lena', q));
    await jobIdOf('mark', 'Not yours: should I learn the drums?');

    const first = await ask(['list', '--limit', '2'], { COT_USER: 'lena' });
    expect(first.code).toBe(0);
    const lines = first.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toContain(mine[2]);
    expect(lines[0]).toContain('Third: should I learn the harp?');
    expect(lines[1]).toContain(mine[1]);
    const next = /^more: npm run ask -- (list --limit 2 --cursor \S+)$/.exec(lines[2]!)?.[1];
    expect(next, lines[2]).toBeDefined();

    const second = await ask(next!.split(' '), { COT_USER: 'lena' });
    expect(second.code).toBe(0);
    expect(second.stdout.trimEnd().split('\n')).toEqual([expect.stringContaining(mine[0]!)]);
    expect(second.stdout).not.toContain('drums');

    const json = JSON.parse((await ask(['list', '--json'], { COT_USER: 'lena' })).stdout) as JobsPage;
    expect(json.items.map((j) => j.jobId)).toEqual([...mine].reverse());
  });
});

describe('npm run ask show', () => {
  it('shows a finished job with its answers and advice rendered from Markdown, and its view as documented', async () => {
    const jobId = await jobIdOf('nina', 'Should our team of five rewrite the monolith as microservices?');
    const done = await waitForEnd(await fx.client('nina'), jobId);
    expect(done.status).toBe('succeeded');
    // The text as stored is Markdown (the chair writes ## sections).
    expect(done.synthesis?.text).toMatch(/^## /m);

    const shown = await ask(['show', jobId], { COT_USER: 'nina' });
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('You asked: Should our team of five rewrite the monolith as microservices?');
    for (const a of done.advisors) expect(shown.stdout).toContain(`● ${a.name} answered`);
    expect(shown.stdout).toMatch(/^Recommendation\n─+$/m);
    expect(shown.stdout).toMatch(/Confidence: (high|medium|low)/);
    expect(shown.stdout).not.toMatch(/^\s*#{1,6} /m);
    expect(shown.stdout).not.toContain('**');
    // Not a terminal: no colour, no escape sequences at all.
    expect(shown.stdout).not.toContain('\x1b');

    const json = JSON.parse((await ask(['show', '--json', jobId], { COT_USER: 'nina' })).stdout) as JobView;
    const doc = buildOpenApiDocument(loadCircle(), { maxQuestionChars: 4000 });
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    ajv.addSchema({ ...doc, $id: 'openapi' });
    const validate = ajv.getSchema('openapi#/components/schemas/JobView')!;
    expect(validate(json), JSON.stringify(validate.errors)).toBe(true);

    const foreign = await ask(['show', jobId], { COT_USER: 'otto' });
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toContain(`no job ${jobId} among otto’s jobs`);
  });

  it.skipIf(spawnSync('script', ['--version']).status !== 0)('colours a terminal and stops when NO_COLOR is set', async () => {
    const jobId = await jobIdOf('pia', 'Should I take the night train?', { mode: 'quick' });
    await waitForEnd(await fx.client('pia'), jobId);
    const inTerminal = (env: Record<string, string>) =>
      new Promise<string>((resolve) => {
        // `script` gives the CLI a pseudo-terminal, as a person's shell would.
        const child = spawn('script', ['-qec', `"${process.execPath}" --import tsx services/cli/ask.ts show ${jobId}`, '/dev/null'], { cwd: REPO, env: cliEnv({ COT_USER: 'pia', TERM: 'xterm', ...env }) });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.on('close', () => resolve(out));
      });
    const colored = await inTerminal({});
    expect(colored).toContain('\x1b[1m');
    expect(colored).toContain('You asked:');
    const plain = await inTerminal({ NO_COLOR: '1' });
    expect(plain).toContain('You asked:');
    expect(plain).not.toMatch(/\x1b\[\d+m/);
  });
});

describe('npm run ask attach', () => {
  it('follows a running job live to its end and exits 0', async () => {
    await bedrockOf(fx.stack).configure(SLOW);
    const client = await fx.client('quinn');
    const jobId = await submit(client, { question: 'Should I open a second shop?' });
    await waitForView(client, jobId, (v) => v.status === 'running', 'the job to start');

    const run = await ask(['attach', jobId], { COT_USER: 'quinn' });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('You asked: Should I open a second shop?');
    expect(run.stdout).toMatch(/● \w+ answered/);
    expect(run.stdout).toContain('The chair weighs the circle’s answers…');
    expect(run.stdout).toMatch(/^Recommendation\n─+$/m);
    expect(run.stdout).toMatch(/Confidence: (high|medium|low)/);
    expect(run.stdout).not.toMatch(/^\s*#{1,6} /m);
    expect((await client.get<JobView>(`/jobs/${jobId}`)).body.status).toBe('succeeded');
  });
});

describe('npm run ask cancel', () => {
  it('cancels my running job, says nothing is left to cancel afterwards, and never touches another user’s', async () => {
    const sam = await fx.client('sam');
    const sams = await submit(sam, { question: 'Should I buy the car?', mode: 'quick' });
    await waitForEnd(sam, sams);
    // So slow that only the cancel can end it.
    await bedrockOf(fx.stack).configure({ firstTokenDelayMs: 120_000 });
    const rita = await fx.client('rita');
    const jobId = await submit(rita, { question: 'Should I sell the car?' });

    const refused = await ask(['cancel', sams], { COT_USER: 'rita' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`no job ${sams} among rita’s jobs`);

    const run = await ask(['cancel', jobId], { COT_USER: 'rita' });
    expect(run, run.stderr).toMatchObject({ code: 0 });
    expect(run.stdout).toContain(`Cancelling job ${jobId}: the circle is stopping.`);
    expect((await waitForEnd(rita, jobId)).status).toBe('cancelled');

    const again = await ask(['cancel', jobId], { COT_USER: 'rita' });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('nothing to cancel: the job has already been cancelled');
    expect((await sam.get<JobView>(`/jobs/${sams}`)).body.status).toBe('succeeded');
  });
});

describe('Ctrl-C while following', () => {
  let child: ChildProcessWithoutNullStreams | undefined;
  afterEach(() => {
    // Whatever is left of a failed test's process group.
    if (child?.pid && child.exitCode === null && child.signalCode === null) process.kill(-child.pid, 'SIGKILL');
  });

  it('detaches without a question, prints how to re-attach or cancel, and the job goes on', async () => {
    await bedrockOf(fx.stack).configure(SLOW);
    // Through npm, in a process group of its own, as a terminal runs it.
    child = spawn('npm', ['run', '-s', 'ask', '--', '--user', 'tess', 'Should I learn to sail?'], { cwd: REPO, env: cliEnv(), detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    const { run, output } = collect(child);
    const jobId = await eventually(async () => /^job ([0-9a-f-]{36})$/m.exec(output())?.[1], 'the CLI to print the job id', 30_000);
    await eventually(async () => (/is thinking/.test(output()) ? true : undefined), 'live progress', 30_000);

    // The terminal sends SIGINT to the whole foreground process group.
    process.kill(-child.pid!, 'SIGINT');
    const ended = await run;

    // npm passes the 130 on, or is itself ended by the same SIGINT: a shell shows 130 either way.
    expect(ended.code === 130 || ended.signal === 'SIGINT', JSON.stringify(ended)).toBe(true);
    expect(ended.stderr).toContain(`Detached from job ${jobId}; it goes on without you.`);
    expect(ended.stderr).toContain(`follow it again: npm run ask -- --user tess attach ${jobId}`);
    expect(ended.stderr).toContain(`cancel it:       npm run ask -- --user tess cancel ${jobId}`);
    expect(ended.stderr).not.toMatch(/\?\s*$/); // it asked nothing

    const tess = await fx.client('tess');
    const view = (await tess.get<JobView>(`/jobs/${jobId}`)).body;
    expect(view.status).not.toMatch(/cancelled|failed/);
    expect((await stateOf(fx.stack, jobId))?.cancelRequested).toBeUndefined();
    expect((await waitForEnd(tess, jobId)).status).toBe('succeeded');
  });

  it('exits 130 when run directly', async () => {
    await bedrockOf(fx.stack).configure(SLOW);
    child = spawn(process.execPath, ['--import', 'tsx', 'services/cli/ask.ts', '--quick', 'Should I learn to row?'], { cwd: REPO, env: cliEnv({ COT_USER: 'uma' }), detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    const { run, output } = collect(child);
    await eventually(async () => (/is thinking/.test(output()) ? true : undefined), 'live progress', 30_000);
    process.kill(child.pid!, 'SIGINT');
    const ended = await run;
    expect(ended.code).toBe(130);
    expect(ended.stderr).toMatch(/follow it again: npm run ask -- attach [0-9a-f-]{36}/);
  });
});
