/**
 * Runs the local WebSocket gateway on its own:
 *   npx tsx services/local/ws-gateway/main.ts --integration-url http://127.0.0.1:8080 [--port 3001]
 *     [--stage local] [--idle-timeout-seconds 600] [--max-connection-age-seconds 7200]
 *     [--post-rate-per-second N] [--integration-secret S]
 * (the API needs the same secret in COT_WS_INTEGRATION_SECRET to serve /ws/*)
 * Prints the WebSocket URL and the management endpoint; stops on SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { startWsGateway } from './ws-gateway.js';

const { values } = parseArgs({
  options: {
    'integration-url': { type: 'string' },
    port: { type: 'string', default: '0' },
    stage: { type: 'string', default: 'local' },
    'idle-timeout-seconds': { type: 'string' },
    'max-connection-age-seconds': { type: 'string' },
    'post-rate-per-second': { type: 'string' },
    'integration-secret': { type: 'string' },
  },
});

const optionalNumber = (value: string | undefined): number | undefined => (value === undefined ? undefined : Number(value));

async function main(): Promise<void> {
  const integrationUrl = values['integration-url'];
  if (!integrationUrl) {
    process.stderr.write('usage: main.ts --integration-url <http://host:port of the API> [--port N]\n');
    process.exit(2);
  }
  const logger = pino({ name: 'ws-gateway' });
  const rate = optionalNumber(values['post-rate-per-second']);
  const gateway = await startWsGateway({
    integrationUrl,
    port: Number(values.port),
    stage: values.stage,
    idleTimeoutSeconds: optionalNumber(values['idle-timeout-seconds']),
    maxConnectionAgeSeconds: optionalNumber(values['max-connection-age-seconds']),
    postRateLimit: rate === undefined ? undefined : { perSecond: rate },
    integrationSecret: values['integration-secret'],
    logger,
  });
  logger.info({ wsUrl: gateway.wsUrl, managementEndpoint: gateway.managementEndpoint }, 'ws-gateway listening');
  const stop = (): void => {
    void gateway.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`ws-gateway failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
