/**
 * A minimal cookie jar for one origin: enough to carry the provider's session and
 * interaction cookies across the redirects of a sign-in (name, value, Path, expiry).
 */

interface StoredCookie {
  value: string;
  path: string;
  expiresAt?: number;
}

export class CookieJar {
  readonly #cookies = new Map<string, StoredCookie>();

  /** Takes the Set-Cookie headers of `response`, received for `url`. */
  store(url: URL, response: Response, now = Date.now()): void {
    for (const header of response.headers.getSetCookie()) this.#storeOne(url, header, now);
  }

  /** The Cookie header to send to `url`, or undefined when no cookie applies. */
  header(url: URL, now = Date.now()): string | undefined {
    const pairs: string[] = [];
    for (const [name, cookie] of this.#cookies) {
      if (cookie.expiresAt !== undefined && cookie.expiresAt <= now) {
        this.#cookies.delete(name);
        continue;
      }
      if (pathMatches(url.pathname, cookie.path)) pairs.push(`${name}=${cookie.value}`);
    }
    return pairs.length > 0 ? pairs.join('; ') : undefined;
  }

  #storeOne(url: URL, header: string, now: number): void {
    const [pair = '', ...attributes] = header.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) return;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const cookie: StoredCookie = { value, path: defaultPath(url) };
    for (const attribute of attributes) {
      const [key = '', attrValue = ''] = attribute.split('=', 2).map((part) => part.trim());
      switch (key.toLowerCase()) {
        case 'path':
          if (attrValue.startsWith('/')) cookie.path = attrValue;
          break;
        case 'max-age':
          cookie.expiresAt = now + Number(attrValue) * 1000;
          break;
        case 'expires': {
          const at = Date.parse(attrValue);
          // Max-Age wins over Expires (RFC 6265 §5.3 step 3).
          if (!Number.isNaN(at) && !/max-age/i.test(header)) cookie.expiresAt = at;
          break;
        }
      }
    }
    if (cookie.expiresAt !== undefined && cookie.expiresAt <= now) this.#cookies.delete(name);
    else this.#cookies.set(name, cookie);
  }
}

/** RFC 6265 §5.1.4 path-match. */
function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath.charAt(cookiePath.length) === '/';
}

/** RFC 6265 §5.1.4 default-path: the request path up to its last '/'. */
function defaultPath(url: URL): string {
  const path = url.pathname;
  const lastSlash = path.lastIndexOf('/');
  return lastSlash <= 0 ? '/' : path.slice(0, lastSlash);
}
