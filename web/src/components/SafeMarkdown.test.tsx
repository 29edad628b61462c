import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import SafeMarkdown, { safeUrl } from './SafeMarkdown';

function renderMarkdown(text: string) {
  return render(<SafeMarkdown text={text} />).container;
}

describe('SafeMarkdown', () => {
  it('renders Markdown: emphasis, lists, tables, code', () => {
    const container = renderMarkdown('**Bold** move.\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n`code`');
    expect(container.querySelector('strong')).toHaveTextContent('Bold');
    expect(screen.getAllByRole('listitem')).toHaveLength(2);
    expect(screen.getByRole('table')).toBeInTheDocument();
    expect(container.querySelector('code')).toHaveTextContent('code');
  });

  it('never lets a <script> reach the DOM', () => {
    const container = renderMarkdown('<script>window.pwned = 1</script>\n\nText <script>window.pwned = 2</script> after.');
    expect(container.querySelector('script')).toBeNull();
    // The tags are dropped; what was between them is shown as plain text.
    expect(container).toHaveTextContent('Text window.pwned = 2 after.');
    expect((window as unknown as { pwned?: number }).pwned).toBeUndefined();
  });

  it('drops raw HTML such as <img src=x onerror=…> and event handlers', () => {
    const container = renderMarkdown('Look <img src=x onerror="window.pwned=1"> here and <b onclick="x()">there</b>.\n\n<div style="position:fixed" onmouseover="x()">overlay</div>');
    expect(container.querySelector('img, [onerror], [onclick], [onmouseover], [style], div')).toBeNull();
    expect(container).toHaveTextContent('Look here and there.');
  });

  it('drops javascript: and data: links but keeps the link text', () => {
    renderMarkdown('[run](javascript:alert(1)) [data](data:text/html;base64,PHNjcmlwdD4=) [JS](JAVASCRIPT:alert(1)) [rel](/admin)');
    expect(screen.queryByRole('link')).not.toBeInTheDocument();
    for (const text of ['run', 'data', 'JS', 'rel']) expect(screen.getByText(text)).toBeInTheDocument();
  });

  it('keeps https links, opened with rel="noopener noreferrer"', () => {
    renderMarkdown('See [the docs](https://example.com/docs) or <https://example.org>.');
    const links = screen.getAllByRole('link');
    expect(links.map((a) => a.getAttribute('href'))).toEqual(['https://example.com/docs', 'https://example.org/']);
    for (const a of links) expect(a).toHaveAttribute('rel', 'noopener noreferrer');
  });

  it('shows a model’s image as its alt text and loads nothing', () => {
    const container = renderMarkdown('![a chart](https://tracker.example/pixel.png)');
    expect(container.querySelector('img')).toBeNull();
    expect(container).toHaveTextContent('[image: a chart]');
  });

  it('accepts only absolute http(s) and mailto URLs', () => {
    expect(safeUrl('https://a.test/x')).toBe('https://a.test/x');
    expect(safeUrl('mailto:me@a.test')).toBe('mailto:me@a.test');
    for (const url of ['javascript:alert(1)', ' javascript:alert(1)', 'java\tscript:alert(1)', 'data:text/html,x', 'vbscript:x', '/relative', '#top', '']) expect(safeUrl(url)).toBeUndefined();
  });
});
