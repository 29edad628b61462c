/** The circle (GET /advisors), fetched once per page load and shared. */
import { useEffect, useState } from 'react';
import type { CircleSummary } from '../contracts';
import type { ApiClient } from '../api/api-client';
import { readableError } from '../api/api-client';

const cache = new WeakMap<ApiClient, Promise<CircleSummary>>();

export function useCircle(api: ApiClient): { circle?: CircleSummary; error?: string } {
  const [state, setState] = useState<{ circle?: CircleSummary; error?: string }>({});
  useEffect(() => {
    let live = true;
    let request = cache.get(api);
    if (!request) {
      request = api.advisors();
      cache.set(api, request);
      request.catch(() => cache.delete(api));
    }
    request.then(
      (circle) => live && setState({ circle }),
      (err: unknown) => live && setState({ error: readableError(err) }),
    );
    return () => {
      live = false;
    };
  }, [api]);
  return state;
}
