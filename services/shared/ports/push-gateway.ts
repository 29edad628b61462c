/** The WebSocket API's management endpoint (PostToConnection). */
export interface PushGateway {
  /**
   * Throws GoneError when the connection no longer exists, PushThrottledError when the
   * endpoint throttles (worth retrying later), PushFailedError otherwise (errors.ts).
   */
  post(connectionId: string, data: string): Promise<void>;
  disconnect(connectionId: string): Promise<void>;
}
