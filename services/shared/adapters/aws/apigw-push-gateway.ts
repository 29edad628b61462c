/**
 * PushGateway over API Gateway's management API (@connections). The same code talks to
 * AWS or to the local gateway (services/local/ws-gateway); the client decides which.
 */
import {
  DeleteConnectionCommand,
  PostToConnectionCommand,
  type ApiGatewayManagementApiClient,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { GoneError, PushFailedError, PushThrottledError } from '../../errors.js';
import type { PushGateway } from '../../ports/push-gateway.js';

export class ApiGatewayPushGateway implements PushGateway {
  constructor(private readonly client: ApiGatewayManagementApiClient) {}

  /** Sends `data` as one message; throws GoneError, PushThrottledError or PushFailedError. */
  async post(connectionId: string, data: string): Promise<void> {
    try {
      await this.client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: data }));
    } catch (error) {
      throw translate(connectionId, error);
    }
  }

  /** Closes the connection; one that is already gone counts as disconnected. */
  async disconnect(connectionId: string): Promise<void> {
    try {
      await this.client.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
    } catch (error) {
      const translated = translate(connectionId, error);
      if (!(translated instanceof GoneError)) throw translated;
    }
  }
}

/** Maps SDK errors by name, which also holds when two copies of the SDK are loaded. */
function translate(connectionId: string, error: unknown): Error {
  const errorName = error instanceof Error ? error.name : 'UnknownError';
  if (errorName === 'GoneException') return new GoneError(connectionId, { cause: error });
  if (errorName === 'LimitExceededException') return new PushThrottledError(connectionId, { cause: error });
  return new PushFailedError(connectionId, errorName, { cause: error });
}
