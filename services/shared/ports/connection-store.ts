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
  /** How many connections `sub` has open (recorded and not yet past their maximum age at `now`, epoch ms). */
  countOpen(sub: string, now: number): Promise<number>;
  /** Removes the connection and all its subscriptions. */
  remove(connectionId: string): Promise<void>;
  subscribe(connectionId: string, sub: string, jobId: string): Promise<void>;
  unsubscribe(connectionId: string, jobId: string): Promise<void>;
  subscribers(jobId: string): Promise<Subscriber[]>;
}
