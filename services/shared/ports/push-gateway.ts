/** The WebSocket API's management endpoint (PostToConnection). */
export interface PushGateway {
  /** Throws GoneError when the connection no longer exists. */
  post(connectionId: string, data: string): Promise<void>;
  disconnect(connectionId: string): Promise<void>;
}
