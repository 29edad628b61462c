export interface ConnectionRecord {
  connectionId: string;
  sub: string;
  connectedAt: number;
}

export interface Subscriber {
  connectionId: string;
  sub: string;
}

/** The Connections table: live sockets and their job subscriptions. */
export interface ConnectionStore {
  put(connection: ConnectionRecord): Promise<void>;
  get(connectionId: string): Promise<ConnectionRecord | undefined>;
  /** Removes the connection and all its subscriptions. */
  remove(connectionId: string): Promise<void>;
  subscribe(connectionId: string, sub: string, jobId: string): Promise<void>;
  unsubscribe(connectionId: string, jobId: string): Promise<void>;
  subscribers(jobId: string): Promise<Subscriber[]>;
}
