/**
 * A local Amazon Bedrock Runtime: Converse and ConverseStream over h2c (what the SDK's
 * default NodeHttp2Handler speaks to an http:// endpoint) and HTTP/1.1 on the same port,
 * told apart by the HTTP/2 connection preface. A separate HTTP/1.1 port serves the
 * control plane (call log, faults, scripted replies, timing).
 */
import type { AnyRequest, AnyResponse } from './wire.js';
import { listen } from '../../shared/net.js';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { CallLog } from './call-log.js';
import { createControlHandler } from './control-api.js';
import { FaultBook, ReplyBook } from './fault-book.js';
import { createModelHandler } from './model-api.js';
import { DEFAULT_CASES_FILE, loadMisbehaviours } from './misbehaviour.js';
import { DEFAULT_RECORDINGS_DIR, RecordingBook, loadRecordings } from './recordings.js';
import { DEFAULT_ADVISORS_DIR, SimulatedAdvisors, loadTextBanks } from './simulated-advisors.js';
import type { BadDay, StandinConfig } from './standin.types.js';

export interface BedrockStandinOptions {
  host?: string;
  /** Bedrock Runtime port; 0 (default) picks a free one. */
  port?: number;
  /** Control-plane port; 0 (default) picks a free one. */
  controlPort?: number;
  tokenDelayMs?: number;
  firstTokenDelayMs?: number;
  /** Start with the bad-day switch on (the control API can turn it off). */
  badDay?: BadDay | null;
  advisorsDir?: string;
  recordingsDir?: string;
  misbehaviourFile?: string;
}

export interface BedrockStandin {
  /** Endpoint for AWS_ENDPOINT_URL_BEDROCK_RUNTIME. */
  url: string;
  /** Base URL of the control plane (see BedrockControl). */
  controlUrl: string;
  close(): Promise<void>;
}

export const DEFAULT_STANDIN_CONFIG: Readonly<StandinConfig> = { firstTokenDelayMs: 300, tokenDelayMs: 15, badDay: null };

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n');

/** Starts the stand-in on loopback; resolves once both ports listen. */
export async function startBedrockStandin(opts: BedrockStandinOptions = {}): Promise<BedrockStandin> {
  const host = opts.host ?? '127.0.0.1';
  const initialConfig: StandinConfig = {
    firstTokenDelayMs: opts.firstTokenDelayMs ?? DEFAULT_STANDIN_CONFIG.firstTokenDelayMs,
    tokenDelayMs: opts.tokenDelayMs ?? DEFAULT_STANDIN_CONFIG.tokenDelayMs,
    badDay: opts.badDay ?? null,
  };
  const config = { ...initialConfig };
  const misbehaviours = new Map(loadMisbehaviours(opts.misbehaviourFile ?? DEFAULT_CASES_FILE).map((c) => [c.id, c]));
  const calls = new CallLog();
  const faults = new FaultBook();
  const replies = new ReplyBook();
  const closing = new AbortController();
  const modelHandler = createModelHandler({
    config,
    calls,
    faults,
    replies,
    closing: closing.signal,
    advisors: new SimulatedAdvisors(loadTextBanks(opts.advisorsDir ?? DEFAULT_ADVISORS_DIR)),
    recordings: new RecordingBook(loadRecordings(opts.recordingsDir ?? DEFAULT_RECORDINGS_DIR)),
    misbehaviours,
  });

  const front = createModelFront(modelHandler);
  const control = http.createServer(createControlHandler({ config, initialConfig, calls, faults, replies, caseIds: new Set(misbehaviours.keys()) }));

  const port = await listen(front, opts.port ?? 0, host);
  const controlPort = await listen(control, opts.controlPort ?? 0, host).catch(async (err: unknown) => {
    await close(front); // do not leave the model port open when the control port is taken
    throw err;
  });
  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    controlUrl: `http://${host}:${controlPort}`,
    close: () =>
      (closed ??= (async () => {
        closing.abort(new Error('the Bedrock stand-in is closing'));
        front.destroyConnections();
        control.closeAllConnections();
        await Promise.all([close(front), close(control)]);
      })()),
  };
}

type ModelHandler = (req: AnyRequest, res: AnyResponse) => void;

/**
 * The model port: one TCP server that hands each connection to an HTTP/2 (h2c, the SDK's
 * default) or an HTTP/1.1 server by its first bytes, both serving `handler`.
 */
export function createModelFront(handler: ModelHandler): net.Server & { destroyConnections(): void } {
  const h2 = http2.createServer(handler as never);
  const h1 = http.createServer(handler as never);
  const sockets = new Set<net.Socket>();
  const front = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // A reset before the first byte must not crash the process; the HTTP servers handle later errors.
    socket.on('error', () => socket.destroy());
    socket.once('readable', () => routeConnection(socket, h2, h1));
  });
  return Object.assign(front, {
    destroyConnections: () => {
      for (const socket of sockets) socket.destroy();
    },
  });
}

/** Hands a new connection to the HTTP/2 or the HTTP/1.1 server by its first bytes. */
function routeConnection(socket: net.Socket, h2: http2.Http2Server, h1: http.Server): void {
  const first = socket.read() as Buffer | null;
  if (!first) {
    socket.destroy();
    return;
  }
  socket.unshift(first);
  const n = Math.min(first.length, H2_PREFACE.length);
  const isH2 = first.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
  (isH2 ? h2 : h1).emit('connection', socket);
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
