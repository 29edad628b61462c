/**
 * What the bench's loopback proxies share: the lifecycle (listen on 127.0.0.1, ephemeral port,
 * remember open sockets, and on close drop them, the upstream agent and the server) and the
 * forwarding of one buffered request.
 */
import http from 'node:http';
import type net from 'node:net';

export interface LoopbackServer {
  url: string;
  close(): Promise<void>;
}

export async function listenOnLoopback(server: http.Server, agent: http.Agent): Promise<LoopbackServer> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      for (const s of sockets) s.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Sends a request whose body was read already to `upstream` and pipes the answer back.
 * `onAnswer` sees the answer first; returning false means it has taken the response over.
 * An upstream that fails answers 502, or drops the connection once headers went out.
 */
export function forwardTo(
  upstream: URL,
  agent: http.Agent,
  req: http.IncomingMessage,
  body: Buffer,
  res: http.ServerResponse,
  onAnswer?: (answer: http.IncomingMessage) => boolean | void,
  path = req.url,
): void {
  const forward = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path, headers: req.headers, agent }, (answer) => {
    if (onAnswer?.(answer) === false) return;
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  forward.on('error', () => {
    if (!res.headersSent) res.writeHead(502).end();
    else res.destroy();
  });
  forward.end(body);
}
