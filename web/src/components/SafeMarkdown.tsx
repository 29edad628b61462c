/**
 * Model and user text as Markdown, inert: raw HTML is skipped (never parsed into the DOM),
 * the tree is sanitized (rehype-sanitize, GitHub's schema), only http(s) and mailto links
 * survive and open with rel="noopener noreferrer", and images are shown as their alt text
 * (no request leaves the page for a model's image).
 */
import type { ComponentProps } from 'react';
import ReactMarkdown, { type Components } from 'react-markdown';
import rehypeSanitize from 'rehype-sanitize';
import remarkGfm from 'remark-gfm';

const SAFE_PROTOCOLS = ['http:', 'https:', 'mailto:'];

/** Keeps absolute http(s)/mailto URLs; anything else (javascript:, data:, relative) is dropped. */
export function safeUrl(url: string): string | undefined {
  try {
    const parsed = new URL(url.trim());
    return SAFE_PROTOCOLS.includes(parsed.protocol) ? parsed.href : undefined;
  } catch {
    return undefined;
  }
}

const components: Components = {
  a: ({ href, children }) =>
    href ? (
      <a href={href} rel="noopener noreferrer" target="_blank">
        {children}
      </a>
    ) : (
      <span>{children}</span>
    ),
  img: ({ alt }) => <span>{alt ? `[image: ${alt}]` : '[image]'}</span>,
};

const remarkPlugins: ComponentProps<typeof ReactMarkdown>['remarkPlugins'] = [remarkGfm];
const rehypePlugins: ComponentProps<typeof ReactMarkdown>['rehypePlugins'] = [rehypeSanitize];

export default function SafeMarkdown({ text }: { text: string }) {
  return (
    <ReactMarkdown skipHtml remarkPlugins={remarkPlugins} rehypePlugins={rehypePlugins} urlTransform={(url) => safeUrl(url) ?? ''} components={components}>
      {text}
    </ReactMarkdown>
  );
}
