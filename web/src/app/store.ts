/**
 * A tiny external store for useSyncExternalStore. `set` changes the current value at once;
 * subscribers hear about it on the next `schedule` tick (an animation frame for streamed
 * text), so a burst of updates renders once. Readers see the published value, never one
 * newer than what they were told about, so React never re-renders in between.
 */
import { useSyncExternalStore } from 'react';

export interface Store<T> {
  get(): T;
  set(next: T | ((current: T) => T)): void;
  subscribe(listener: () => void): () => void;
  /** Publishes a pending change now. */
  flush(): void;
}

export type Scheduler = (fn: () => void) => void;

/** Runs on the next animation frame (or soon, where there are no frames). */
export const nextFrame: Scheduler = (fn) => {
  if (typeof requestAnimationFrame === 'function') requestAnimationFrame(() => fn());
  else setTimeout(fn, 16);
};

/** Publishes synchronously: for state that changes rarely. */
export const immediately: Scheduler = (fn) => fn();

export function createStore<T>(initial: T, schedule: Scheduler = immediately): Store<T> {
  let current = initial;
  let published = initial;
  let pending = false;
  const listeners = new Set<() => void>();
  const publish = () => {
    pending = false;
    if (published === current) return;
    published = current;
    for (const l of [...listeners]) l();
  };
  return {
    get: () => published,
    set(next) {
      current = typeof next === 'function' ? (next as (c: T) => T)(current) : next;
      if (pending) return;
      pending = true;
      schedule(publish);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    flush: publish,
  };
}

/** The store's value (or a part of it) in a component. */
export function useStore<T>(store: Store<T>): T {
  return useSyncExternalStore(store.subscribe, store.get, store.get);
}
