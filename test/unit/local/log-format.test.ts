import { describe, expect, it } from 'vitest';
import { createLineFormatter, formatPinoLine } from '../../../services/local/log-format.js';

describe('formatPinoLine', () => {
  it('turns a pino JSON line into time, level, message and fields', () => {
    const line = JSON.stringify({ level: 30, time: '2026-01-02T03:04:05.678Z', pid: 1, service: 'cot-worker', msg: 'worker ready', concurrency: 8, workerId: 'vm:1' });
    expect(formatPinoLine(line)).toBe('03:04:05.678 INFO  worker ready concurrency=8 workerId=vm:1');
  });

  it('shows an error as name, message and the first frame outside node_modules, without the stack', () => {
    const err = {
      type: 'ValidationException',
      message: 'bad update',
      stack: 'ValidationException: bad update\n    at x (/app/node_modules/sdk/index.js:1:1)\n    at commit (/app/services/store.ts:10:3)',
    };
    const out = formatPinoLine(JSON.stringify({ level: 50, time: 0, msg: 'commit failed', err }));
    expect(out).toContain('ERROR commit failed err="ValidationException: bad update (commit (/app/services/store.ts:10:3))"');
    expect(out).not.toContain('node_modules');
  });

  it('leaves lines that are not JSON objects to the caller', () => {
    expect(formatPinoLine('Initializing DynamoDB Local')).toBeUndefined();
    expect(formatPinoLine('{not json')).toBeUndefined();
    expect(formatPinoLine('[1,2]')).toBeUndefined();
  });
});

describe('createLineFormatter', () => {
  it('prefixes every line with its padded source and passes plain lines through', () => {
    const f = createLineFormatter({ colour: false, width: 8 });
    expect(f.format('dynamodb', 'Port: 8000')).toBe('dynamodb │ Port: 8000');
    expect(f.format('api', 'hello')).toBe('api      │ hello');
  });
});
