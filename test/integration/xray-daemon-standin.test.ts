/**
 * The local X-Ray daemon stand-in takes whatever arrives on its UDP port: documents as the
 * SDK sends them are kept, one JSON line each; anything else is counted and dropped.
 */
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { startXRayDaemon, type TraceDocument } from '../../services/local/xray-daemon.js';
import { eventually } from '../support/jobs.js';

const dir = mkdtempSync(join(tmpdir(), 'cot-xray-daemon-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HEADER = '{"format":"json","version":1}\n';

describe('X-Ray daemon stand-in', () => {
  it('keeps every document and survives any datagram', async () => {
    const file = join(dir, 'traces.jsonl');
    const seen: TraceDocument[] = [];
    const daemon = await startXRayDaemon({ file, onDocument: (doc) => seen.push(doc) });
    const socket = createSocket('udp4');
    const [host, port] = daemon.address.split(':') as [string, string];
    const send = (data: Buffer | string) => new Promise<void>((resolve) => socket.send(data, Number(port), host, () => resolve()));
    try {
      const junk = fc.sample(fc.oneof(fc.uint8Array({ maxLength: 2000 }).map((a) => Buffer.from(a)), fc.string().map((s) => HEADER + s), fc.string()), 300);
      const valid = Array.from({ length: 20 }, (_, i) => ({ name: 'cot-worker', id: `${i}`.padStart(16, '0'), trace_id: '1-6789abcd-0123456789abcdef01234567' }));
      for (const [i, doc] of valid.entries()) {
        await send(junk[i] ?? '');
        await send(HEADER + JSON.stringify(doc));
      }
      for (const data of junk.slice(valid.length)) await send(data);
      await eventually(async () => (daemon.rejected() + seen.length === junk.length + valid.length ? true : undefined), 'every datagram', 20_000);
      expect(seen).toEqual(valid);
    } finally {
      socket.close();
      await daemon.close();
    }
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    expect(lines.map((l) => JSON.parse(l) as TraceDocument)).toEqual(seen);
  });
});
