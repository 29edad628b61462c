/**
 * The OpenAPI 3.1 description of the HTTP API, served at GET /openapi.json. Paths come from
 * the shared route list (contracts/routes.ts) and every route must have an operation here
 * (a Record over RouteKey); the POST /chat body schema is derived from its validator, so
 * the description and the checks cannot drift apart.
 */
import { z } from 'zod';
import type { Circle } from '../../shared/circle/circle.js';
import type { ChatRequestBody } from '../../shared/contracts/api.js';
import { HTTP_ROUTES, routeKeyOf, type RouteKey } from '../../shared/contracts/routes.js';
import { MAX_BODY_BYTES } from '../middleware/json-body.js';
import { chatSchema, type ChatLimits } from '../schemas/chat.schema.js';
import { DEFAULT_PAGE_SIZE, JOB_ID, MAX_CURSOR_CHARS, MAX_PAGE_SIZE } from '../schemas/jobs.schema.js';
import { RESPONSE_SCHEMAS, type JsonSchema } from './openapi.schemas.js';

export type OpenApiDocument = JsonSchema & { openapi: string; paths: Record<string, Record<string, JsonSchema>> };

interface Operation {
  operationId: string;
  description: string;
  parameters?: JsonSchema[];
  requestBody?: JsonSchema;
  /** Status → [description, schema name]. */
  responses: Record<string, [string, string] | JsonSchema>;
}

const jobIdParameter: JsonSchema = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'A job id, as POST /chat answered it. Anything else is simply not found.',
  schema: { type: 'string', pattern: JOB_ID.source },
};

const AUTH_401: [string, string] = ['No token, or one that is expired, tampered with, for another audience or signed with `alg: none`.', 'Error'];
const NOT_FOUND: [string, string] = ['No such job, or not yours: the same answer either way.', 'Error'];

/** A 429 of a rate-limited route: `what` are the calls counted. */
const rateLimited = (what: string): JsonSchema => ({
  description: `Too many ${what} from you this minute (\`rate_limited\`).`,
  headers: { 'Retry-After': { description: 'Seconds until you may try again.', schema: { type: 'integer' } } },
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

/** What POST /chat accepts: the validator's own schema plus what its refinements check. */
function chatRequestSchema(circle: Circle, limits: ChatLimits): JsonSchema {
  const derived = z.toJSONSchema(chatSchema(limits), { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;
  delete derived.$schema;
  const docs: Record<keyof ChatRequestBody, JsonSchema> = {
    question: {
      minLength: 1,
      description: `Your question (Markdown is fine). At most ${limits.maxQuestionChars} characters after trimming; no control characters other than tab and newline (CR LF becomes LF).`,
    },
    advisors: {
      uniqueItems: true,
      description: 'Ask only these advisors (ids from GET /advisors; answered in circle order). All of them when absent.',
    },
    mode: { description: '`full` (answers, anonymous reviews, synthesis) or `quick` (answers, synthesis).' },
    conversationId: { description: 'Continue one of your conversations: the `conversationId` an earlier POST /chat answered with.' },
  };
  const properties = derived.properties as Record<string, JsonSchema>;
  for (const [name, schema] of Object.entries(properties)) {
    const doc = docs[name as keyof ChatRequestBody];
    if (!doc) throw new Error(`POST /chat field "${name}" is not described in the OpenAPI document`);
    properties[name] = { ...schema, ...doc };
  }
  const advisors = properties.advisors as { items: JsonSchema };
  advisors.items = { ...advisors.items, enum: circle.advisors.map((a) => a.id) };
  // The parser refuses fewer advisors than the quorum (they could never meet it).
  (advisors as JsonSchema).minItems = Math.min(circle.quorum, circle.advisors.length);
  return { ...derived, description: `A question for the circle. The body is JSON of at most ${MAX_BODY_BYTES / 1024} KB.` };
}

const OPERATIONS: Record<RouteKey, Operation> = {
  'POST /chat': {
    operationId: 'ask',
    description:
      'Stores the job under your identity, queues it for a worker and answers at once. Follow it with GET /jobs/{id} or live over the WebSocket API (docs/websocket.md). Nothing is stored or queued for a rejected request.',
    requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/ChatRequest' } } } },
    responses: {
      '202': {
        description: 'Queued.',
        headers: { Location: { description: 'The job: /jobs/{jobId}.', schema: { type: 'string' } } },
        content: { 'application/json': { schema: { $ref: '#/components/schemas/ChatAccepted' } } },
      },
      '400': ['`invalid_request` (a field is wrong: the message names it), `invalid_json` or `unknown_advisor`.', 'Error'],
      '401': AUTH_401,
      '404': ['`conversationId` is not one of your conversations.', 'Error'],
      '413': ['The body is larger than allowed.', 'Error'],
      '415': ['The body is not `application/json` (UTF-8).', 'Error'],
      '429': rateLimited('questions'),
      '503': ['The job could not be stored or queued (`unavailable`); try again.', 'Error'],
    },
  },
  'GET /jobs': {
    operationId: 'listJobs',
    description: 'Your jobs, newest first, a page at a time. Follow `cursor` until an answer has none.',
    parameters: [
      {
        name: 'limit',
        in: 'query',
        description: 'Jobs per page.',
        schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE },
      },
      {
        name: 'cursor',
        in: 'query',
        description: 'The `cursor` of the previous page, as it was.',
        schema: { type: 'string', minLength: 1, maxLength: MAX_CURSOR_CHARS },
      },
    ],
    responses: {
      '200': ['One page.', 'JobsPage'],
      '400': ['`invalid_request` (a bad limit) or `invalid_cursor`.', 'Error'],
      '401': AUTH_401,
    },
  },
  'GET /jobs/{id}': {
    operationId: 'getJob',
    description: 'Status, stage, each advisor’s answer and review, the ranking, the synthesis, usage and cost.',
    parameters: [jobIdParameter],
    responses: { '200': ['The job view.', 'JobView'], '401': AUTH_401, '404': NOT_FOUND },
  },
  'POST /jobs/{id}/cancel': {
    operationId: 'cancelJob',
    description: 'Asks the worker running the job to stop it; the job ends `cancelled`. Watch it end with GET /jobs/{id}.',
    parameters: [jobIdParameter],
    responses: {
      '202': ['Cancellation requested.', 'CancelAccepted'],
      '401': AUTH_401,
      '404': NOT_FOUND,
      '409': ['The job has already ended (`job_finished`); the message says how.', 'Error'],
    },
  },
  'POST /jobs/{id}/redrive': {
    operationId: 'redriveJob',
    description:
      'Runs a failed job again, as Step Functions redrives an execution: every step that succeeded is kept (its model is not called again), the steps that failed run again with their attempts counted on, and the job goes on from the stage it failed in. The job is `queued`, then `running`; its history goes on with a `job.redriven` transition. Limited like POST /chat.',
    parameters: [jobIdParameter],
    responses: {
      '202': ['Queued to run again.', 'RedriveAccepted'],
      '401': AUTH_401,
      '404': NOT_FOUND,
      '409': ['The job is not failed (`job_not_failed`); the message says how it stands. Nothing changed.', 'Error'],
      '429': rateLimited('redrives'),
      '503': ['The job could not be queued (`unavailable`); it stays failed, and can be redriven again.', 'Error'],
    },
  },
  'GET /jobs/{id}/timeline': {
    operationId: 'getTimeline',
    description:
      'Why a job was slow, where it waited, what it cost: every commit, lease, model call (with time to first token), retry with its back-off and push, in time order, with a summary (latency, the models’ critical path, the overhead over it, queue wait, stage times, cost).',
    parameters: [jobIdParameter],
    responses: { '200': ['The timeline.', 'JobTimeline'], '401': AUTH_401, '404': NOT_FOUND },
  },
  'GET /advisors': {
    operationId: 'listAdvisors',
    description: 'The circle’s advisors and chair (names, models, roles; never their prompts), the quorum, the modes and the question limit.',
    responses: { '200': ['The circle.', 'CircleSummary'], '401': AUTH_401 },
  },
  'GET /healthz': {
    operationId: 'health',
    description: 'The process is up and serving. No token needed; touches no dependency.',
    responses: { '200': ['Up.', 'Health'] },
  },
  'GET /openapi.json': {
    operationId: 'openApi',
    description: 'This document. No token needed.',
    responses: { '200': { description: 'The OpenAPI 3.1 description.', content: { 'application/json': { schema: { type: 'object' } } } } },
  },
};

const response = (value: [string, string] | JsonSchema): JsonSchema =>
  Array.isArray(value) ? { description: value[0], content: { 'application/json': { schema: { $ref: `#/components/schemas/${value[1]}` } } } } : value;

/** The description for this circle and these limits (both show in it). */
export function buildOpenApiDocument(circle: Circle, limits: ChatLimits): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  for (const route of HTTP_ROUTES) {
    const { responses, ...operation } = OPERATIONS[routeKeyOf(route) as RouteKey];
    const documented: JsonSchema = {
      summary: route.summary,
      ...operation,
      responses: {
        ...Object.fromEntries(Object.entries(responses).map(([status, value]) => [status, response(value)])),
        default: response(['Anything else: 405 `method_not_allowed` (with Allow), 500 `internal` (quote the X-Request-Id header).', 'Error']),
      },
    };
    if (!route.authenticated) documented.security = [];
    (paths[route.path] ??= {})[route.method.toLowerCase()] = documented;
  }
  return {
    openapi: '3.1.1',
    info: {
      title: 'Circle of Trust',
      version: '1',
      summary: 'Ask one question; a circle of advisors answers, reviews each other anonymously, and a chair writes the advice.',
      description:
        'Paths are relative to the API’s base URL: http://127.0.0.1:8080 with `npm start`, https://{distribution}/api behind CloudFront in AWS. Every call but /healthz and /openapi.json needs `Authorization: Bearer <access token>` (PingID in AWS, the local OpenID provider with `npm start`). Another user’s job is a 404. Errors are `{"error":{"code","message"}}`. Live progress is on the WebSocket API: docs/websocket.md.',
    },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    security: [{ bearerAuth: [] }],
    paths,
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: { ChatRequest: chatRequestSchema(circle, limits), ...RESPONSE_SCHEMAS },
    },
  };
}
