/**
 * The stand-in's control plane (plain HTTP/1.1 JSON): read the call log, inject faults,
 * script replies, change token timing, reset. Errors are `{error:{code,message}}`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import type { CallFilter, CallLog } from './call-log.js';
import type { FaultBook, ReplyBook } from './fault-book.js';
import { configSchema, faultSchema, scriptedReplySchema, type StandinConfig } from './standin.types.js';

export interface ControlDeps {
  config: StandinConfig;
  /** The timing the stand-in started with; POST /reset restores it. */
  initialConfig: Readonly<StandinConfig>;
  calls: CallLog;
  faults: FaultBook;
  replies: ReplyBook;
  /** The misbehaviour cases a `misbehave` fault may name. */
  caseIds: ReadonlySet<string>;
}

class ControlRequestError extends Error {
  override name = 'ControlRequestError';
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

const FILTERS = ['modelId', 'jobId', 'step', 'kind', 'outcome'] as const;
const MAX_BODY_BYTES = 64 * 1024;

/** The control-plane request handler. */
export function createControlHandler(deps: ControlDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    route(req, deps)
      .then(([status, body]) => send(res, status, body))
      .catch((err: unknown) => {
        const e = err instanceof ControlRequestError ? err : new ControlRequestError(500, 'internal', 'the control plane failed');
        send(res, e.status, { error: { code: e.code, message: e.message } });
      });
  };
}

async function route(req: IncomingMessage, deps: ControlDeps): Promise<[number, unknown]> {
  const url = new URL(req.url ?? '/', 'http://control');
  const key = `${req.method} ${url.pathname}`;
  switch (key) {
    case 'GET /healthz':
      return [200, { ok: true }];
    case 'GET /calls': {
      const filter: CallFilter = {};
      for (const name of FILTERS) {
        const value = url.searchParams.get(name);
        if (value !== null) filter[name] = value;
      }
      return [200, { calls: deps.calls.list(filter) }];
    }
    case 'POST /reset':
      deps.calls.reset();
      deps.faults.reset();
      deps.replies.reset();
      Object.assign(deps.config, deps.initialConfig);
      return [200, { ok: true }];
    case 'GET /faults':
      return [200, { faults: deps.faults.list() }];
    case 'POST /faults': {
      const fault = parse(faultSchema, await readJson(req));
      if (fault.case !== undefined && !deps.caseIds.has(fault.case)) {
        throw new ControlRequestError(400, 'bad_request', `case: no misbehaviour case ${JSON.stringify(fault.case)} in fixtures/misbehaviour`);
      }
      deps.faults.inject(fault);
      return [201, { fault }];
    }
    case 'GET /replies':
      return [200, { replies: deps.replies.list() }];
    case 'POST /replies': {
      const reply = parse(scriptedReplySchema, await readJson(req));
      deps.replies.inject(reply);
      return [201, { reply }];
    }
    case 'GET /config':
      return [200, { config: deps.config }];
    case 'POST /config': {
      const patch = parse(configSchema, await readJson(req));
      for (const [k, v] of Object.entries(patch)) if (v !== undefined) Object.assign(deps.config, { [k]: v });
      return [200, { config: deps.config }];
    }
    default:
      throw new ControlRequestError(404, 'not_found', `no control route ${key}`);
  }
}

function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
  throw new ControlRequestError(400, 'bad_request', problems);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new ControlRequestError(413, 'too_large', 'request body is too large');
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  } catch {
    throw new ControlRequestError(400, 'bad_request', 'request body is not JSON');
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
