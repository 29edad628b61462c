/**
 * Encoding server messages into WebSocket payloads that each fit one API Gateway frame
 * (32 KB): a frame holds one message, or several as a JSON array (in order), and a message
 * too large for a frame travels as ordered `chunk` messages that the client joins by id.
 * FrameDecoder is the client side of all three.
 */
import { randomUUID } from 'node:crypto';
import type { ChunkMessage, ServerMessage } from '../contracts/ws.js';
import { MAX_FRAME_BYTES } from '../contracts/ws.js';
import { splitByBytes } from '../text.js';

/** Room left in a frame for the chunk envelope ({"type":"chunk","id":…,"index":…,"count":…,"data":…}). */
const ENVELOPE_BYTES = 256;

/** Payloads, each at most maxBytes of UTF-8, that together carry `message`. */
export function encodeFrames(message: ServerMessage, maxBytes: number = MAX_FRAME_BYTES): string[] {
  const json = JSON.stringify(message);
  if (Buffer.byteLength(json, 'utf8') <= maxBytes) return [json];
  // JSON.stringify of the data string may grow it (escapes); budget conservatively and re-check.
  let budget = Math.floor((maxBytes - ENVELOPE_BYTES) / 2);
  for (;;) {
    const pieces = splitByBytes(json, budget);
    const id = randomUUID();
    const frames = pieces.map((data, index) =>
      JSON.stringify({ type: 'chunk', id, index, count: pieces.length, data } satisfies ChunkMessage),
    );
    if (frames.every((f) => Buffer.byteLength(f, 'utf8') <= maxBytes)) return frames;
    budget = Math.floor(budget / 2);
  }
}

/**
 * Packs messages, in order, into as few frames as fit: runs of small messages become JSON
 * arrays; a message too large for a frame is chunked on its own.
 */
export function packFrames(messages: readonly ServerMessage[], maxBytes: number = MAX_FRAME_BYTES): string[] {
  const frames: string[] = [];
  let run: string[] = [];
  let runBytes = 2; // the brackets
  const closeRun = () => {
    if (run.length === 1) frames.push(run[0]!);
    else if (run.length > 1) frames.push(`[${run.join(',')}]`);
    run = [];
    runBytes = 2;
  };
  for (const message of messages) {
    const json = JSON.stringify(message);
    const bytes = Buffer.byteLength(json, 'utf8');
    if (bytes + 2 > maxBytes) {
      closeRun();
      frames.push(...encodeFrames(message, maxBytes));
      continue;
    }
    if (runBytes + bytes + (run.length > 0 ? 1 : 0) > maxBytes) closeRun();
    runBytes += bytes + (run.length > 0 ? 1 : 0);
    run.push(json);
  }
  closeRun();
  return frames;
}

/** Client side: the messages a frame carries (one, an array, or none until a chunked message is complete). */
export class FrameDecoder {
  private readonly chunks = new ChunkAssembler();

  decode(raw: string): ServerMessage[] {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      return [];
    }
    const out: ServerMessage[] = [];
    for (const item of Array.isArray(parsed) ? parsed : [parsed]) {
      const message = item as ServerMessage;
      if (message?.type !== 'chunk') {
        out.push(message);
        continue;
      }
      const whole = this.chunks.add(message);
      if (whole) out.push(whole);
    }
    return out;
  }
}

/** Client side: joins chunk messages back into the messages they carry. */
export class ChunkAssembler {
  private readonly parts = new Map<string, string[]>();

  /** Returns the complete message when `chunk` was the last part missing. */
  add(chunk: ChunkMessage): ServerMessage | undefined {
    const parts = this.parts.get(chunk.id) ?? new Array<string>(chunk.count);
    parts[chunk.index] = chunk.data;
    this.parts.set(chunk.id, parts);
    if (parts.filter((p) => p !== undefined).length < chunk.count) return undefined;
    this.parts.delete(chunk.id);
    return JSON.parse(parts.join('')) as ServerMessage;
  }
}
