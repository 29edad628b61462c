/**
 * A tiny web app for testing the web host and the sign-in without the real UI: Vite builds
 * it exactly like web/, and its one module does what an OIDC client library does in the
 * browser — reads /config.json, signs in with authorization code + PKCE through the
 * provider's login page, redeems the code at the token endpoint (cross-origin, under the
 * host's CSP), calls the API with the access token (cross-origin, CORS) and pings the
 * WebSocket API with it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PlaceholderWebApp {
  /** The app's folder (index.html, src/); `dist/` appears there once built. */
  dir: string;
  remove(): void;
}

const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Circle of Trust (placeholder)</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/src/style.css">
</head>
<body>
<main>
<h1>Circle of Trust</h1>
<p id="status" role="status">loading</p>
<button id="sign-in" type="button" hidden>Sign in</button>
</main>
<script type="module" src="/src/main.js"></script>
</body>
</html>
`;

/** In public/: copied to dist/ as it is, unhashed (so served with no-cache). */
const FAVICON_SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7" fill="#1a55c4"/></svg>\n';

const STYLE_CSS = `body { font-family: system-ui, sans-serif; margin: 2rem; color: #1a1a1a; background: #fff; }\n`;

const MAIN_JS = `
const status = document.getElementById('status');
const signIn = document.getElementById('sign-in');
const say = (text) => { status.textContent = text; };
const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
const random = () => b64url(crypto.getRandomValues(new Uint8Array(32)));

async function discover(config) {
  const res = await fetch(config.oidc.authority + '/.well-known/openid-configuration');
  return res.json();
}

async function startSignIn(config) {
  const discovery = await discover(config);
  const verifier = random();
  const state = random();
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  sessionStorage.setItem('pkce', JSON.stringify({ verifier, state }));
  const url = new URL(discovery.authorization_endpoint);
  const params = {
    response_type: 'code', client_id: config.oidc.clientId, redirect_uri: location.origin + '/callback',
    scope: config.oidc.scope, state, code_challenge: challenge, code_challenge_method: 'S256',
  };
  if (config.oidc.resource) params.resource = config.oidc.resource;
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  location.assign(url.href);
}

async function finishSignIn(config) {
  const params = new URLSearchParams(location.search);
  const saved = JSON.parse(sessionStorage.getItem('pkce') || 'null');
  if (!saved || saved.state !== params.get('state')) return say('sign-in failed: state mismatch');
  const discovery = await discover(config);
  const body = new URLSearchParams({
    grant_type: 'authorization_code', code: params.get('code') || '', redirect_uri: location.origin + '/callback',
    client_id: config.oidc.clientId, code_verifier: saved.verifier,
  });
  if (config.oidc.resource) body.set('resource', config.oidc.resource);
  const tokenRes = await fetch(discovery.token_endpoint, { method: 'POST', body });
  const token = await tokenRes.json();
  if (!tokenRes.ok) return say('sign-in failed: ' + (token.error || tokenRes.status));
  const sub = JSON.parse(atob(token.access_token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).sub;
  const jobs = await fetch(config.apiUrl + '/jobs', { headers: { authorization: 'Bearer ' + token.access_token } });
  say('signed in as ' + sub + '; GET /jobs answered ' + jobs.status);
  const pong = await new Promise((resolve) => {
    const socket = new WebSocket(config.wsUrl + '?token=' + encodeURIComponent(token.access_token));
    socket.onopen = () => socket.send(JSON.stringify({ action: 'ping' }));
    socket.onmessage = (event) => {
      const messages = [].concat(JSON.parse(event.data));
      if (messages.some((m) => m.type === 'pong')) { socket.close(); resolve('pong'); }
    };
    socket.onerror = () => resolve('an error');
  });
  say(status.textContent + '; WebSocket answered ' + pong);
}

async function main() {
  const config = await (await fetch('/config.json')).json();
  if (location.pathname === '/callback') return finishSignIn(config);
  say('signed out');
  signIn.hidden = false;
  signIn.addEventListener('click', () => { startSignIn(config).catch((e) => say('sign-in failed: ' + e.message)); });
}

main().catch((e) => say('failed: ' + e.message));
`;

/** Writes the placeholder app into a fresh temporary folder (synchronously, so a test file can pass it to withLocalStack at load). */
export function createPlaceholderWebApp(): PlaceholderWebApp {
  const dir = mkdtempSync(join(tmpdir(), 'cot-web-app-'));
  mkdirSync(join(dir, 'src'));
  mkdirSync(join(dir, 'public'));
  writeFileSync(join(dir, 'public/favicon.svg'), FAVICON_SVG);
  writeFileSync(join(dir, 'index.html'), INDEX_HTML);
  writeFileSync(join(dir, 'src/style.css'), STYLE_CSS);
  writeFileSync(join(dir, 'src/main.js'), MAIN_JS);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
