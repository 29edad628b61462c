/** A raw WebSocket client for e2e tests: every message it receives, parsed (chunks joined), plus each raw payload's size. */
import WebSocket from 'ws';
import { FrameDecoder } from '../../services/shared/push/frames.js';
import type { ServerMessage } from '../../services/shared/contracts/ws.js';

export interface RawClient {
  socket: WebSocket;
  messages: ServerMessage[];
  sizes: number[];
}

/** Connects to `wsUrl` with `token` (none: no token); rejects when the handshake is refused. */
export async function rawClient(wsUrl: string, token: string | undefined): Promise<RawClient> {
  const url = new URL(wsUrl);
  if (token) url.searchParams.set('token', token);
  const socket = new WebSocket(url);
  const messages: ServerMessage[] = [];
  const sizes: number[] = [];
  const frames = new FrameDecoder();
  socket.on('message', (data) => {
    const text = String(data);
    sizes.push(Buffer.byteLength(text));
    messages.push(...frames.decode(text));
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('unexpected-response', (_req, res) => reject(new Error(`handshake refused: ${res.statusCode}`)));
    socket.once('error', reject);
  });
  return { socket, messages, sizes };
}
