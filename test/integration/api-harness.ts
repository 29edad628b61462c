/**
 * The API and the local WebSocket gateway in this process, on real parts: DynamoDB Local
 * and fauxqs (real adapters), the local OpenID provider (real tokens), the gateway calling
 * the API's /ws/* routes with the integration secret as API Gateway's integration would.
 * The API logs at debug into memory, so tests can check what reaches which level.
 * Shared by the security-findings and fuzz suites.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { createApp, type ApiDeps } from '../../services/api/app.js';
import { ApiGatewayPushGateway } from '../../services/shared/adapters/aws/apigw-push-gateway.js';
import { DynamoConnectionStore } from '../../services/shared/adapters/aws/dynamo-connection-store.js';
import { createManagementApi } from '../../services/shared/aws-clients.js';
import { createJwtVerifier } from '../../services/shared/auth/jwt-verifier.js';
import { loadCircle } from '../../services/shared/circle/circle.js';
import { startOidcProvider, type LocalOidcProvider } from '../../services/local/oidc/provider.js';
import { getAccessToken } from '../../services/local/oidc/token-client.js';
import { startWsGateway, type WsGateway, type WsGatewayOptions } from '../../services/local/ws-gateway/ws-gateway.js';
import { apiStores, startAwsLocal, type AwsLocal } from '../support/aws-local.js';
// Only its logger: the API here runs on the real adapters.
import { memoryLogger } from '../unit/api-memory-ports.js';

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export const LEVEL = { debug: 20, info: 30, warn: 40, error: 50 } as const;

export interface HarnessOptions {
  config?: Partial<ApiDeps['config']>;
  maxConnectionsPerUser?: number;
  gateway?: Partial<WsGatewayOptions>;
}

export interface ApiHarness {
  aws: AwsLocal;
  provider: LocalOidcProvider;
  apiUrl: string;
  apiPort: number;
  gateway: WsGateway;
  integrationSecret: string;
  /** The API's log lines so far, parsed. */
  logs(): LogLine[];
  /** The gateway's warn lines so far. */
  gatewayWarnings(): Record<string, unknown>[];
  /** A real access token for `user` from the local OpenID provider (cached per user). */
  token(user: string): Promise<string>;
  /** Every item of the Connections table. */
  connectionItems(): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

export async function startApiHarness(opts: HarnessOptions = {}): Promise<ApiHarness> {
  // The management API client signs with SigV4; the local gateway accepts any signature.
  Object.assign(process.env, { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' });
  const [aws, provider] = await Promise.all([startAwsLocal(), startOidcProvider()]);
  const { lines, logger } = memoryLogger('debug');
  const integrationSecret = randomBytes(32).toString('base64url');
  const server = createServer();
  const apiPort = await listen(server);
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const gatewayWarnings: Record<string, unknown>[] = [];
  const gateway = await startWsGateway({
    integrationUrl: apiUrl,
    integrationSecret,
    logger: { warn: (details, message) => gatewayWarnings.push({ ...details, msg: message }) },
    ...opts.gateway,
  });
  const management = createManagementApi(gateway.managementEndpoint);
  const { doc, tables } = aws;
  const connections = new DynamoConnectionStore(doc, tables.connections);
  const app = createApp({
    ...apiStores(aws),
    circle: loadCircle(),
    verifier: createJwtVerifier({ issuer: provider.issuer, audience: provider.audience, algorithms: ['RS256', 'PS256', 'ES256'] }),
    logger,
    config: { maxQuestionChars: 4000, rateLimitPerMinute: 1000, ...opts.config },
    ws: { connections, push: new ApiGatewayPushGateway(management), integrationSecret, maxConnectionsPerUser: opts.maxConnectionsPerUser ?? 20 },
  });
  const handle = app.callback();
  server.on('request', (req, res) => void handle(req, res));

  const tokens = new Map<string, Promise<string>>();
  return {
    aws,
    provider,
    apiUrl,
    apiPort,
    gateway,
    integrationSecret,
    logs: () => lines().map((l) => JSON.parse(l) as LogLine),
    gatewayWarnings: () => [...gatewayWarnings],
    token: (user) => {
      let token = tokens.get(user);
      if (!token) {
        token = getAccessToken({ issuer: provider.issuer, user, audience: provider.audience });
        tokens.set(user, token);
      }
      return token;
    },
    connectionItems: async () => (await doc.send(new ScanCommand({ TableName: tables.connections, ConsistentRead: true }))).Items ?? [],
    close: async () => {
      await gateway.close();
      management.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await provider.close();
      await aws.stop();
    },
  };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}
