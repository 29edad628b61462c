/**
 * The `ws` package limits a whole message (maxPayload) but not a single frame, while API
 * Gateway limits both (32 KB per frame, 128 KB per message). This guard reads the raw
 * client → server byte stream alongside `ws`, follows the frame headers (RFC 6455 §5.2)
 * without buffering payloads, and reports the first frame that is too large.
 */
export class FrameSizeGuard {
  private header: number[] = [];
  private remainingPayload = 0;
  private tripped = false;

  constructor(private readonly maxFrameBytes: number) {}

  /** Feeds received bytes; returns the payload length of the first oversized frame, once. */
  feed(chunk: Buffer): number | undefined {
    if (this.tripped) return undefined;
    let i = 0;
    while (i < chunk.length) {
      if (this.remainingPayload > 0) {
        const skipped = Math.min(this.remainingPayload, chunk.length - i);
        this.remainingPayload -= skipped;
        i += skipped;
        continue;
      }
      // Headers are at most 14 bytes, so collecting them byte by byte costs nothing.
      this.header.push(chunk[i] as number);
      i += 1;
      const length = completePayloadLength(this.header);
      if (length === undefined) continue;
      this.header = [];
      if (length > this.maxFrameBytes) {
        this.tripped = true;
        return length;
      }
      this.remainingPayload = length;
    }
    return undefined;
  }
}

/** The frame's payload length once `header` holds the whole frame header, else undefined. */
function completePayloadLength(header: readonly number[]): number | undefined {
  const second = header[1];
  if (second === undefined) return undefined;
  const masked = (second & 0x80) !== 0;
  const shortLength = second & 0x7f;
  const extendedBytes = shortLength === 126 ? 2 : shortLength === 127 ? 8 : 0;
  if (header.length < 2 + extendedBytes + (masked ? 4 : 0)) return undefined;
  let length = extendedBytes === 0 ? shortLength : 0;
  for (let k = 2; k < 2 + extendedBytes; k += 1) length = length * 256 + (header[k] as number);
  return length;
}
