/**
 * Path-based routes over the History API (the hosts fall back to index.html for any path).
 * `/` asking (or the signed-out landing), `/callback` OIDC redirect, `/jobs/<id>` a job,
 * `/history` the caller's jobs.
 */
import type { AnchorHTMLAttributes, MouseEvent } from 'react';
import { createStore, useStore } from './store';

export type Route =
  | { name: 'home' }
  | { name: 'callback' }
  | { name: 'job'; jobId: string }
  | { name: 'history' }
  | { name: 'not-found'; path: string };

/** The route a path names. */
export function routeOf(path: string): Route {
  if (path === '/' || path === '') return { name: 'home' };
  if (path === '/callback') return { name: 'callback' };
  if (path === '/history') return { name: 'history' };
  const job = /^\/jobs\/([^/]+)\/?$/.exec(path);
  if (job?.[1]) return { name: 'job', jobId: decodeURIComponent(job[1]) };
  return { name: 'not-found', path };
}

export const jobPath = (jobId: string): string => `/jobs/${encodeURIComponent(jobId)}`;

const location = createStore(typeof window === 'undefined' ? '/' : window.location.pathname);
if (typeof window !== 'undefined') window.addEventListener('popstate', () => location.set(window.location.pathname));

/** Goes to `path` (adding a history entry unless `replace`). */
export function navigate(path: string, { replace = false } = {}): void {
  if (replace) window.history.replaceState(null, '', path);
  else window.history.pushState(null, '', path);
  location.set(window.location.pathname);
}

/** Re-reads the address bar (after something else changed it). */
export function syncLocation(): void {
  location.set(window.location.pathname);
}

export function useRoute(): Route {
  return routeOf(useStore(location));
}

/** An in-app link: a real <a href> (open in new tab works) that navigates without a reload. */
export function Link({ to, onClick, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { to: string }) {
  const click = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={click} {...rest} />;
}
