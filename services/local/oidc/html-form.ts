/**
 * Reads the first form of a sign-in page, so the token client can fill and submit it the
 * way a browser would. Not a general HTML parser: enough for the provider's own pages.
 */

export interface HtmlForm {
  /** Absolute URL the form submits to. */
  action: URL;
  method: 'GET' | 'POST';
  /** Named inputs with their current values. */
  fields: Map<string, string>;
}

/** The first <form> of `html`, with its action resolved against `pageUrl`; undefined when none. */
export function firstForm(html: string, pageUrl: URL): HtmlForm | undefined {
  const form = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) return undefined;
  const attributes = attributesOf(form[1] ?? '');
  const method = (attributes.get('method') ?? 'get').toUpperCase() === 'POST' ? 'POST' : 'GET';
  const fields = new Map<string, string>();
  for (const input of (form[2] ?? '').matchAll(/<(?:input|button)\b([^>]*)>/gi)) {
    const inputAttributes = attributesOf(input[1] ?? '');
    const name = inputAttributes.get('name');
    if (name !== undefined) fields.set(name, inputAttributes.get('value') ?? '');
  }
  return { action: new URL(attributes.get('action') ?? pageUrl.href, pageUrl), method, fields };
}

/** The text of the page's first role="alert" element (the provider's error line), if any. */
export function alertText(html: string): string | undefined {
  const alert = /<(\w+)\b[^>]*role="alert"[^>]*>([\s\S]*?)<\/\1>/i.exec(html);
  if (!alert) return undefined;
  const text = decodeEntities((alert[2] ?? '').replace(/<[^>]*>/g, '')).replace(/\s+/g, ' ').trim();
  return text || undefined;
}

function attributesOf(source: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const match of source.matchAll(/([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) {
    const name = match[1]?.toLowerCase();
    if (name) attributes.set(name, decodeEntities(match[2] ?? match[3] ?? match[4] ?? ''));
  }
  return attributes;
}

function decodeEntities(text: string): string {
  return text.replace(/&(#\d+|#x[0-9a-f]+|amp|lt|gt|quot|apos);/gi, (_whole, entity: string) => {
    const lower = entity.toLowerCase();
    if (lower.startsWith('#')) {
      const codePoint = lower.startsWith('#x') ? parseInt(lower.slice(2), 16) : parseInt(lower.slice(1), 10);
      return codePoint <= 0x10ffff ? String.fromCodePoint(codePoint) : '\uFFFD';
    }
    return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[lower] ?? '';
  });
}
