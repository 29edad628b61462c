/**
 * A stand-in for the X-Ray daemon's UDP side: where the SDK sends segment documents (one
 * datagram each: a `{"format":"json","version":1}` header line, then the document), it
 * appends each document as one JSON line to a file (`npm start`: .local/traces.jsonl) and
 * hands it to a callback (tests). Nothing is forwarded anywhere; a datagram that is not a
 * daemon datagram is counted and dropped, never fatal.
 */
import { createSocket } from 'node:dgram';
import { createWriteStream, type WriteStream } from 'node:fs';

const DAEMON_HEADER = '{"format":"json","version":1}';
const RECEIVE_BUFFER_BYTES = 8 * 1024 * 1024;

/** A segment or subsegment document as X-Ray receives it (the fields the stack reads). */
export interface TraceDocument {
  name: string;
  id: string;
  trace_id?: string;
  parent_id?: string;
  /** `subsegment` for a subsegment sent on its own (streamed). */
  type?: string;
  start_time?: number;
  end_time?: number;
  in_progress?: boolean;
  annotations?: Record<string, string | number | boolean>;
  subsegments?: TraceDocument[];
  aws?: { operation?: string };
  error?: boolean;
  fault?: boolean;
  throttle?: boolean;
}

export interface XRayDaemonOptions {
  host?: string;
  /** 0 or unset: ephemeral. */
  port?: number;
  /** Append each document here, one JSON line each. */
  file?: string;
  onDocument?: (doc: TraceDocument, datagram: string) => void;
}

export interface XRayDaemonStandin {
  /** host:port for AWS_XRAY_DAEMON_ADDRESS. */
  address: string;
  /** Datagrams that were not X-Ray documents. */
  rejected(): number;
  close(): Promise<void>;
}

export async function startXRayDaemon(opts: XRayDaemonOptions = {}): Promise<XRayDaemonStandin> {
  // UDP drops what does not fit the socket's buffer: a burst of segments from several
  // workers outruns the default (~200 KB). The kernel caps this at net.core.rmem_max.
  const socket = createSocket({ type: 'udp4', recvBufferSize: RECEIVE_BUFFER_BYTES });
  const out: WriteStream | undefined = opts.file ? createWriteStream(opts.file, { flags: 'a', mode: 0o600 }) : undefined;
  let rejected = 0;
  socket.on('message', (message) => {
    const datagram = message.toString('utf8');
    const newline = datagram.indexOf('\n');
    let doc: TraceDocument;
    try {
      if (newline < 0 || datagram.slice(0, newline) !== DAEMON_HEADER) throw new Error('not a daemon datagram');
      doc = JSON.parse(datagram.slice(newline + 1)) as TraceDocument;
      if (!isDocument(doc)) throw new Error('not a segment document');
    } catch {
      rejected++;
      return;
    }
    out?.write(`${JSON.stringify(doc)}\n`);
    opts.onDocument?.(doc, datagram);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  const { address, port } = socket.address();
  return {
    address: `${address}:${port}`,
    rejected: () => rejected,
    close: async () => {
      await new Promise<void>((resolve) => socket.close(() => resolve()));
      if (out) await new Promise<void>((resolve) => out.end(() => resolve()));
    },
  };
}

/** A (sub)segment document names itself: an object with a string id and name. */
function isDocument(value: unknown): value is TraceDocument {
  const doc = value as Partial<TraceDocument> | null;
  return typeof doc === 'object' && doc !== null && !Array.isArray(doc) && typeof doc.id === 'string' && typeof doc.name === 'string';
}
