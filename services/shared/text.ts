/** Text helpers shared by storage and push. */

/** Splits text into pieces of at most maxBytes UTF-8 bytes without cutting a code point. */
export function splitByBytes(text: string, maxBytes: number): string[] {
  const pieces: string[] = [];
  let start = 0;
  while (start < text.length) {
    // Grow an estimate in characters, then shrink until it fits.
    let end = Math.min(text.length, start + maxBytes);
    while (Buffer.byteLength(text.slice(start, end), 'utf8') > maxBytes) {
      end = start + Math.max(1, Math.floor((end - start) * 0.9));
    }
    // Never split a surrogate pair.
    const code = text.charCodeAt(end - 1);
    if (end < text.length && code >= 0xd800 && code <= 0xdbff && end - start > 1) end -= 1;
    pieces.push(text.slice(start, end));
    start = end;
  }
  return pieces;
}
