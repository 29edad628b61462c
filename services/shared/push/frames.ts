/**
 * Encoding server messages into WebSocket payloads that each fit one API Gateway frame
 * (32 KB): small messages go as they are, large ones as ordered `chunk` messages that the
 * client joins by id.
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
