import { describe, expect, it } from 'vitest';
import { requestErrorLog, CLIENT_FAULT_LOG_INTERVAL_MS } from '../../services/api/middleware/error-log.js';
import type { ApiContext } from '../../services/api/middleware/context.js';
import { memoryLogger } from './api-memory-ports.js';

const ctx = (state: Record<string, unknown> = {}) => ({ method: 'POST', path: '/chat', state: { requestId: 'r-1', ...state } }) as unknown as ApiContext;

/** What llhttp raises for bytes after a `Connection: close` request; rawPacket holds the request, token included. */
function parseError(): Error {
  return Object.assign(new Error('Parse Error: Data after `Connection: close`'), {
    code: 'HPE_CLOSED_CONNECTION',
    rawPacket: Buffer.from('POST /chat HTTP/1.1\r\nAuthorization: Bearer secret-token\r\n\r\n'),
  });
}

describe('requestErrorLog', () => {
  it('logs client faults at debug, with one info line per interval that counts the rest, never their bytes', () => {
    const { logger, lines } = memoryLogger('debug');
    const clock = { t: 0 };
    const log = requestErrorLog(logger, () => clock.t);

    for (let i = 0; i < 5; i += 1) log(parseError(), ctx());
    clock.t += CLIENT_FAULT_LOG_INTERVAL_MS;
    log(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), ctx());

    const logged = lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged.filter((l) => (l.level as number) >= 40)).toEqual([]);
    expect(logged.filter((l) => l.level === 20)).toHaveLength(6);
    expect(logged.filter((l) => l.level === 30).map((l) => [l.code, l.earlierUnreported])).toEqual([
      ['HPE_CLOSED_CONNECTION', 0],
      ['ECONNRESET', 4],
    ]);
    expect(lines().join('\n')).not.toContain('secret-token');
  });

  it('logs failures on our side at error with their cause, even when they look like a hang-up', () => {
    const { logger, lines } = memoryLogger('debug');
    const log = requestErrorLog(logger, () => 0);
    const dependencyReset = Object.assign(new Error('DynamoDB connection reset'), { code: 'ECONNRESET' });

    log(dependencyReset, ctx({ serverFault: dependencyReset }));
    log(new Error('a bug'), ctx());

    const logged = lines().map((l) => JSON.parse(l) as { level: number; msg: string; err: { message: string } });
    expect(logged.map((l) => [l.level, l.msg, l.err.message])).toEqual([
      [50, 'request failed', 'DynamoDB connection reset'],
      [50, 'request failed', 'a bug'],
    ]);
  });
});
