/** What every page needs, provided once at the top (tests provide their own). */
import { createContext, useContext } from 'react';
import type { WebConfig } from '../contracts';
import type { ApiClient } from '../api/api-client';
import type { Auth } from '../auth/auth';
import type { SocketLike } from '../live/job-live';

export interface Services {
  config: WebConfig;
  auth: Auth;
  api: ApiClient;
  /** Opens a WebSocket (the browser's by default). */
  openSocket?: (url: string) => SocketLike;
}

const ServicesContext = createContext<Services | undefined>(undefined);

export const ServicesProvider = ServicesContext.Provider;

export function useServices(): Services {
  const services = useContext(ServicesContext);
  if (!services) throw new Error('useServices outside ServicesProvider');
  return services;
}
