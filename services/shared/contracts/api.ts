/**
 * The HTTP API's request and answer bodies, as its clients (the web app, the CLI) see them.
 * The routes in services/api produce exactly these; the OpenAPI description documents them.
 */
import type { JobStatus, JobSummary, Mode } from './job.js';

/** POST /chat body. */
export interface ChatRequestBody {
  question: string;
  /** Advisor ids, a subset of GET /advisors; all of them when absent. */
  advisors?: string[];
  mode?: Mode;
  /** Continue one of the caller's conversations (the id POST /chat answered with). */
  conversationId?: string;
}

/** POST /chat answer (202). */
export interface ChatAccepted {
  jobId: string;
  status: 'queued';
  /** The conversation this job is a turn of: its own id for a new conversation. */
  conversationId: string;
}

/** GET /jobs answer: newest first; `cursor` only when there is a next page. */
export interface JobsPage {
  items: JobSummary[];
  cursor?: string;
}

/** POST /jobs/{id}/cancel answer (202). */
export interface CancelAccepted {
  jobId: string;
  status: 'cancelling';
}

/** POST /jobs/{id}/redrive answer (202): the failed job is queued to run its failed steps again. */
export interface RedriveAccepted {
  jobId: string;
  status: 'queued';
}

/** A member of the circle as a caller may see it (no persona prompt). */
export interface MemberSummary {
  id: string;
  name: string;
  modelId: string;
  /** The persona's role, e.g. "Strategist". */
  title?: string;
}

/** GET /advisors answer. */
export interface CircleSummary {
  advisors: MemberSummary[];
  chair: MemberSummary;
  /** Advisors that must answer for a job to go on. */
  quorum: number;
  modes: Mode[];
  /** What POST /chat accepts. */
  limits: { maxQuestionChars: number };
}

/** Every error answer: `{error:{code,message}}`. */
export interface ApiErrorBody {
  error: { code: string; message: string };
}

/** A finished job's status, as 409 answers name it. */
export type FinalStatus = Extract<JobStatus, 'succeeded' | 'failed' | 'cancelled'>;
