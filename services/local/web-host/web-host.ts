/**
 * The local stand-in for S3 + CloudFront: serves a web build as static files on loopback
 * with the single-page-app fallback, content types, caching, the security headers of the
 * deployed app, and `/config.json`. It listens first (so its URL is known before the app's
 * configuration is) and serves once it is given a build.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { closeServer, listen } from '../../shared/net.js';
import { WEB_CONFIG_PATH, type WebConfig } from '../../shared/contracts/web-config.js';
import { WEB_SECURITY_HEADERS, webContentSecurityPolicy } from '../../shared/contracts/web-security.js';
import { CACHE_CONTROL, cacheControlOf, contentTypeOf, routeOf } from './static-files.js';

export interface WebHostOptions {
  /** Loopback unless told otherwise. */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
}

export interface WebSite {
  /** The build to serve (web/dist). */
  distDir: string;
  /** Served as /config.json. */
  config: WebConfig;
}

export interface WebHost {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  /** Starts serving `site` (until then every request is a 503). */
  serve(site: WebSite): void;
  close(): Promise<void>;
}

/** Starts listening; resolves with the host's URL. */
export async function startWebHost(opts: WebHostOptions = {}): Promise<WebHost> {
  const host = opts.host ?? '127.0.0.1';
  let site: { distDir: string; configJson: string; headers: Record<string, string> } | undefined;
  const server = createServer((req, res) => {
    if (!site) return void send(res, 503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '1' }, 'The web app is still being built.\n');
    answer(req, res, site).catch(() => {
      if (!res.headersSent) send(res, 500, plain(site?.headers), 'Internal error\n');
      else res.destroy();
    });
  });
  const port = await listen(server, opts.port ?? 0, host);
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    serve({ distDir, config }) {
      site = { distDir, configJson: `${JSON.stringify(config, null, 2)}\n`, headers: securityHeaders(config) };
    },
    close: () => closeServer(server),
  };
}

/** The deployed app's headers: its CSP admits the API, the WebSocket API and the issuer of `config`. */
export function securityHeaders(config: WebConfig): Record<string, string> {
  const connect = [config.apiUrl, config.wsUrl, config.oidc.authority].map((url) => new URL(url).origin);
  return { ...WEB_SECURITY_HEADERS, 'Content-Security-Policy': webContentSecurityPolicy(connect) };
}

async function answer(req: IncomingMessage, res: ServerResponse, site: { distDir: string; configJson: string; headers: Record<string, string> }): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return send(res, 405, { ...plain(site.headers), Allow: 'GET, HEAD' }, 'Only GET and HEAD\n');
  }
  const path = new URL(req.url ?? '/', 'http://web-host.invalid').pathname;
  if (path === WEB_CONFIG_PATH) {
    return send(res, 200, { ...site.headers, 'Content-Type': contentTypeOf('config.json'), 'Cache-Control': CACHE_CONTROL.revalidate }, req.method === 'HEAD' ? '' : site.configJson);
  }
  const route = routeOf(path);
  switch (route.kind) {
    case 'bad-request':
      return send(res, 400, plain(site.headers), 'Bad request\n');
    case 'not-found':
      return send(res, 404, plain(site.headers), 'Not found\n');
    case 'app':
      return sendFile(req, res, join(site.distDir, 'index.html'), CACHE_CONTROL.revalidate, site.headers);
    case 'file':
      return sendFile(req, res, join(site.distDir, route.file), cacheControlOf(path), site.headers);
  }
}

async function sendFile(req: IncomingMessage, res: ServerResponse, file: string, cacheControl: string, headers: Record<string, string>): Promise<void> {
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) return send(res, 404, plain(headers), 'Not found\n');
  const etag = `W/"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
  const common = { ...headers, 'Cache-Control': cacheControl, ETag: etag, 'Last-Modified': info.mtime.toUTCString() };
  if (req.headers['if-none-match'] === etag) return send(res, 304, common, '');
  res.writeHead(200, { ...common, 'Content-Type': contentTypeOf(file), 'Content-Length': String(info.size) });
  if (req.method === 'HEAD') return void res.end();
  await new Promise<void>((resolve, reject) => {
    createReadStream(file).on('error', reject).pipe(res).on('finish', resolve).on('error', reject);
  });
}

function plain(headers: Record<string, string> | undefined): Record<string, string> {
  return { ...headers, 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': CACHE_CONTROL.revalidate };
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  res.writeHead(status, { ...headers, 'Content-Length': String(Buffer.byteLength(body)) });
  res.end(body);
}

