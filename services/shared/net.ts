/** Small networking helpers shared by the services and the local stand-ins. */
import type { AddressInfo, Server } from 'node:net';
import type { Server as HttpServer } from 'node:http';

/** Listens on host:port (0 = a free port) and resolves with the bound port; rejects on e.g. EADDRINUSE. */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stops accepting connections and resolves once the server is closed; idle keep-alive sockets are closed so they do not hold it open. */
export function closeServer(server: HttpServer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!server.listening) return resolve();
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeIdleConnections();
  });
}
