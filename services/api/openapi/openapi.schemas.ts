/**
 * JSON Schemas (2020-12, as OpenAPI 3.1 uses them) of the API's answers, written from
 * services/shared/contracts/{job,api}.ts. Objects stay open (no additionalProperties:
 * false) so clients tolerate fields added later; test/unit/openapi.test.ts validates real
 * answers against a closed copy, so a field the routes send but these omit fails it.
 */
import type { AdviceQuality, Confidence, JobStage, JobStatus, Mode, StepStatus } from '../../shared/contracts/job.js';

export type JsonSchema = { [key: string]: unknown };

/** Every member of a contract's union: a Record over the union fails to compile when one is missing. */
const members = <T extends string>(all: Record<T, true>): T[] => Object.keys(all) as T[];
const MODES = members<Mode>({ full: true, quick: true });
const JOB_STATUSES = members<JobStatus>({ queued: true, running: true, succeeded: true, failed: true, cancelled: true });
const JOB_STAGES = members<JobStage>({ queued: true, advising: true, reviewing: true, synthesizing: true, done: true });
const STEP_STATUSES = members<StepStatus>({ pending: true, running: true, retrying: true, succeeded: true, failed: true, skipped: true, cancelled: true });
const CONFIDENCES = members<Exclude<Confidence, 'unstated'>>({ high: true, medium: true, low: true });
const ADVICE_QUALITIES = members<AdviceQuality>({ complete: true, unranked: true, unstructured: true, unsynthesized: true });

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const str = (description?: string): JsonSchema => (description ? { type: 'string', description } : { type: 'string' });
const int = (description: string): JsonSchema => ({ type: 'integer', minimum: 0, description });
const epochMs = (description: string): JsonSchema => ({ type: 'integer', description: `${description} Epoch milliseconds.` });
const isoTime = (description: string): JsonSchema => ({ type: 'string', format: 'date-time', description });
const object = (properties: Record<string, JsonSchema>, required: string[], description?: string): JsonSchema => ({
  type: 'object',
  ...(description ? { description } : {}),
  properties,
  required,
});

const stepViewProperties: Record<string, JsonSchema> = {
  status: ref('StepStatus'),
  attempt: int('The attempt this view shows (1 for the first; 0 before the step started).'),
  text: str('The model’s output (Markdown), once the attempt has finished.'),
  error: ref('StepError'),
  usage: ref('Usage'),
  costUsd: { type: 'number', minimum: 0, description: 'What this step cost, in US dollars.' },
  dueAt: { type: 'integer', description: 'While retrying: epoch milliseconds of the next attempt.' },
  truncated: { type: 'boolean', description: 'The model stopped at its token limit: the text is kept but cut short.' },
};

/** components.schemas of the answers (the request body is added from the validator). */
export const RESPONSE_SCHEMAS: Record<string, JsonSchema> = {
  Error: object(
    {
      error: object(
        {
          code: str('Stable, machine-readable: invalid_request, invalid_json, unknown_advisor, invalid_cursor, missing_token, invalid_token, expired_token, not_found, method_not_allowed, job_finished, payload_too_large, unsupported_media_type, rate_limited, unavailable, internal.'),
          message: str('One sentence a person can act on; never a stack trace.'),
        },
        ['code', 'message'],
      ),
    },
    ['error'],
    'Every error answer.',
  ),
  Mode: { type: 'string', enum: MODES, description: '`full`: advise → review → synthesize; `quick`: advise → synthesize.' },
  JobStatus: { type: 'string', enum: JOB_STATUSES },
  JobStage: { type: 'string', enum: JOB_STAGES },
  StepStatus: {
    type: 'string',
    enum: STEP_STATUSES,
    description: '`skipped`: never reached (or not part of the mode); `cancelled`: unfinished when the job was cancelled.',
  },
  StepError: object({ error: str('Error name, e.g. ThrottlingException, States.Timeout, Review.InvalidOutput.'), cause: str('Readable cause.') }, ['error', 'cause']),
  Usage: object({ inputTokens: int('Input tokens.'), outputTokens: int('Output tokens.') }, ['inputTokens', 'outputTokens']),
  StepView: object(stepViewProperties, ['status', 'attempt'], 'One step (an answer, a review or the synthesis) as a reader sees it.'),
  ReviewView: object(
    {
      ...stepViewProperties,
      ranking: { type: 'array', items: str(), description: 'The advisor ids this reviewer ranked, best first (its own answer excluded).' },
      critiques: { type: 'object', additionalProperties: str(), description: 'Critique per advisor id.' },
    },
    ['status', 'attempt'],
  ),
  AdvisorView: object(
    { id: str(), name: str(), modelId: str('The Bedrock model id.'), answer: ref('StepView'), review: ref('ReviewView') },
    ['id', 'name', 'modelId', 'answer', 'review'],
  ),
  RankedAdvisor: object(
    {
      advisorId: str(),
      meanPosition: { type: 'number', minimum: 1, description: 'Mean 1-based position over the reviewers that ranked it (lower is better).' },
      votes: int('Reviewers that ranked it.'),
    },
    ['advisorId', 'meanPosition', 'votes'],
  ),
  Synthesis: object(
    {
      ...stepViewProperties,
      recommendation: str('The chair’s recommendation (Markdown).'),
      agreement: str('Where the circle agrees (Markdown).'),
      dissent: str('Where it disagrees (Markdown).'),
      confidence: { type: 'string', enum: CONFIDENCES },
    },
    ['status', 'attempt'],
    'The chair’s step; the four sections once its text could be read into them.',
  ),
  JobView: object(
    {
      jobId: { type: 'string', format: 'uuid' },
      status: ref('JobStatus'),
      stage: ref('JobStage'),
      mode: ref('Mode'),
      question: str(),
      conversationId: str('The conversation this job is a turn of (its first job’s id).'),
      createdAt: isoTime('When the job was asked.'),
      updatedAt: isoTime('When its status last changed.'),
      seq: int('The committed transition this view reflects (0 while queued); WebSocket `job.transition` messages continue from it.'),
      advisors: { type: 'array', items: ref('AdvisorView') },
      chair: object({ id: str(), name: str(), modelId: str() }, ['id', 'name', 'modelId']),
      ranking: { type: 'array', items: ref('RankedAdvisor'), description: 'Full mode, after the reviews: best first.' },
      agreement: {
        type: 'object',
        additionalProperties: { type: 'object', additionalProperties: { type: 'number', minimum: 0, maximum: 1 } },
        description: 'agreement[a][b]: how alike reviewers a and b ranked (1 = the same).',
      },
      synthesis: ref('Synthesis'),
      usage: ref('Usage'),
      costUsd: { type: 'number', minimum: 0, description: 'What the job has cost so far, in US dollars.' },
      reason: str('Why a failed or cancelled job ended, in words a person can read.'),
      notes: { type: 'array', items: str(), description: 'Things a reader should know, e.g. an advisor that could not answer.' },
      adviceQuality: {
        type: 'string',
        enum: ADVICE_QUALITIES,
        description: 'How complete the advice of a succeeded job is.',
      },
      simulated: { type: 'boolean', description: 'The advisors were the local simulation: template text, not advice.' },
      modelCalls: object(
        {
          total: int('All model calls the job started.'),
          first: int('First attempts of its steps.'),
          retries: int('Attempts again after a transport or throttling error (the same prompt).'),
          repairs: int('Repairs of unusable output (a prompt that says what was wrong).'),
        },
        ['total', 'first', 'retries', 'repairs'],
        'Model calls of the job, by cause.',
      ),
    },
    ['jobId', 'status', 'stage', 'mode', 'question', 'createdAt', 'updatedAt', 'seq', 'advisors', 'chair', 'usage', 'costUsd', 'notes'],
    'Everything about one job; also the payload of the WebSocket `job.view` message.',
  ),
  JobSummary: object(
    {
      jobId: { type: 'string', format: 'uuid' },
      status: ref('JobStatus'),
      stage: ref('JobStage'),
      mode: ref('Mode'),
      questionPreview: str('The first 120 characters of the question.'),
      createdAt: isoTime('When the job was asked.'),
      updatedAt: isoTime('When its status last changed.'),
    },
    ['jobId', 'status', 'stage', 'mode', 'questionPreview', 'createdAt', 'updatedAt'],
  ),
  JobsPage: object(
    {
      items: { type: 'array', items: ref('JobSummary') },
      cursor: str('Present only when there is a next page: pass it back as `?cursor=`.'),
    },
    ['items'],
  ),
  ChatAccepted: object(
    {
      jobId: { type: 'string', format: 'uuid' },
      status: { const: 'queued' },
      conversationId: str('Send it back with the next question to continue the conversation.'),
    },
    ['jobId', 'status', 'conversationId'],
  ),
  CancelAccepted: object({ jobId: { type: 'string', format: 'uuid' }, status: { const: 'cancelling' } }, ['jobId', 'status']),
  RedriveAccepted: object(
    { jobId: { type: 'string', format: 'uuid' }, status: { const: 'queued', description: 'Queued to run again; watch it with GET /jobs/{id} or live.' } },
    ['jobId', 'status'],
  ),
  MemberSummary: object(
    { id: str(), name: str(), modelId: str('The Bedrock model id.'), title: str('The persona’s role, e.g. Strategist.') },
    ['id', 'name', 'modelId'],
  ),
  CircleSummary: object(
    {
      advisors: { type: 'array', items: ref('MemberSummary') },
      chair: ref('MemberSummary'),
      quorum: int('Advisors that must answer for a job to go on.'),
      modes: { type: 'array', items: ref('Mode') },
      limits: object({ maxQuestionChars: int('Longest accepted question, in characters.') }, ['maxQuestionChars']),
    },
    ['advisors', 'chair', 'quorum', 'modes', 'limits'],
  ),
  Health: object({ status: { const: 'ok' } }, ['status']),
  JobTimeline: object(
    {
      jobId: { type: 'string', format: 'uuid' },
      traceId: str('The job’s X-Ray trace id (absent when tracing is off).'),
      summary: object(
        {
          status: ref('JobStatus'),
          createdAt: epochMs('When the job was asked.'),
          endedAt: epochMs('When it ended.'),
          latencyMs: int('Asked → ended.'),
          criticalPathMs: int('Per stage the slowest step (its calls and back-off waits), summed: the models’ own time.'),
          overheadMs: { type: 'integer', description: 'Latency minus the critical path: queueing, leases, commits, scheduling.' },
          queueWaitMs: int('Asked → the first lease.'),
          stages: { type: 'object', additionalProperties: { type: 'integer', minimum: 0 }, description: 'Milliseconds per stage (advising, reviewing, synthesizing).' },
          runs: int('Worker runs (leases) of the job.'),
          modelCalls: int('Model calls recorded.'),
          retries: int('Failed attempts that were retried.'),
          costUsd: { type: 'number', minimum: 0, description: 'Sum over the recorded model calls.' },
        },
        ['status', 'createdAt', 'stages', 'runs', 'modelCalls', 'retries', 'costUsd'],
      ),
      entries: { type: 'array', items: ref('TimelineEntry'), description: 'In time order.' },
    },
    ['jobId', 'summary', 'entries'],
    'A job’s timeline, from the Transitions table and the workers’ run records.',
  ),
  TimelineEntry: {
    description: 'One thing that happened; `type` says which.',
    oneOf: [
      object({ type: { const: 'queued' }, at: epochMs('When it was asked.'), ms: int('How long it waited for its first run.') }, ['type', 'at', 'ms']),
      object(
        {
          type: { const: 'lease' },
          at: epochMs('When a worker run took the lease.'),
          run: int('The run (lease epoch).'),
          resumed: { type: 'boolean', description: 'The run continued a job an earlier run had started.' },
          delivery: int('How often the wake-up message had been received.'),
          waitedMs: int('Wake-up message sent → leased.'),
        },
        ['type', 'at', 'run', 'resumed'],
      ),
      object(
        {
          type: { const: 'model-call' },
          at: epochMs('When the call was sent.'),
          run: int('The run that made it.'),
          stepId: str(),
          attempt: int('Attempt of the step.'),
          advisorId: str('The advisor, or the chair.'),
          modelId: str(),
          ms: int('Sent → last byte or error.'),
          ttftMs: int('Sent → first streamed text.'),
          outcome: str('`ok`, or the error name.'),
          inputTokens: int('Input tokens.'),
          outputTokens: int('Output tokens.'),
          costUsd: { type: 'number', minimum: 0 },
        },
        ['type', 'at', 'run', 'stepId', 'attempt', 'advisorId', 'modelId', 'ms', 'outcome', 'inputTokens', 'outputTokens', 'costUsd'],
      ),
      object(
        {
          type: { const: 'commit' },
          at: epochMs('When the transition was committed.'),
          seq: int('Its sequence number.'),
          event: str('What happened, e.g. step.succeeded.'),
          status: ref('JobStatus'),
          stage: ref('JobStage'),
          ms: int('How long the write took.'),
          run: int('The run that committed it.'),
        },
        ['type', 'at', 'seq', 'event', 'status', 'stage'],
      ),
      object(
        {
          type: { const: 'retry' },
          at: epochMs('When the attempt failed.'),
          stepId: str(),
          attempt: int('The attempt that failed.'),
          error: str('Its error name.'),
          dueAt: epochMs('When the next attempt is due.'),
          backoffMs: int('The wait before it.'),
        },
        ['type', 'at', 'stepId', 'attempt', 'error', 'dueAt', 'backoffMs'],
      ),
      object(
        {
          type: { const: 'push' },
          run: int('The run that pushed.'),
          seq: int('The transition pushed (absent for streamed text).'),
          at: epochMs('When the message was ready.'),
          ms: int('Ready → the slowest PostToConnection answered.'),
          connections: int('Connections reached.'),
          gone: int('Connections that were gone.'),
        },
        ['type', 'run', 'at', 'ms', 'connections', 'gone'],
      ),
      object(
        {
          type: { const: 'run-end' },
          at: epochMs('When the run ended.'),
          run: int('The run.'),
          outcome: { type: 'string', enum: ['finished', 'handed-over', 'fenced', 'failed', 'lost'] },
        },
        ['type', 'at', 'run', 'outcome'],
      ),
    ],
  },
};
