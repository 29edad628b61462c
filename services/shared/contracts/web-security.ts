/**
 * The web app's security headers. The local web host and the CloudFront response headers
 * policy both take them from here, so the app is tested under the policy it is deployed with.
 */

/**
 * The Content-Security-Policy of the web app: scripts, styles, fonts and frames from its own
 * origin only (no inline script, no eval), and network access to its own origin plus exactly
 * `connectOrigins` — the HTTP API, the WebSocket API and the OpenID issuer.
 */
export function webContentSecurityPolicy(connectOrigins: readonly string[]): string {
  const connect = ["'self'", ...new Set(connectOrigins)].join(' ');
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src ${connect}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Browser features the app never uses, switched off. */
export const WEB_PERMISSIONS_POLICY = 'camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()';

/** The other headers on every answer of the web app's host (the CSP comes from webContentSecurityPolicy). */
export const WEB_SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  // The callback URL carries the authorization code: never send it on as a Referer.
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Permissions-Policy': WEB_PERMISSIONS_POLICY,
} as const;
