/**
 * Encoding server messages into WebSocket payloads that each fit one API Gateway frame
 * (32 KB): a frame holds one message, or several as a JSON array (in order), and a message
 * too large for a frame travels as ordered `chunk` messages that the client joins by id.
 * The client side of all three, FrameDecoder, lives with the rest of the client protocol in
 * contracts/ws-client.ts (browser-safe); it is re-exported here for the services' tools.
 */
import { randomUUID } from 'node:crypto';
import type { ChunkMessage, ServerMessage } from '../contracts/ws.js';
import { MAX_FRAME_BYTES } from '../contracts/ws.js';
import { splitByBytes } from '../text.js';

export { ChunkAssembler, FrameDecoder } from '../contracts/ws-client.js';

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
