/**
 * The local provider's only page: a username form. No password, no styling beyond what
 * makes it usable — it stands in for PingID's hosted login.
 */

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

const PAGE_STYLE =
  'body{font-family:system-ui,sans-serif;max-width:24rem;margin:4rem auto;padding:0 1rem}' +
  'input,button{font:inherit;padding:.4rem;width:100%;box-sizing:border-box;margin:.3rem 0}' +
  '.error{color:#b00020}';

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${PAGE_STYLE}</style></head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
</body>
</html>`;
}

/** The sign-in form for interaction `uid`; `error` is shown above the field when set. */
export function loginPage(opts: { uid: string; clientId: string; error?: string; username?: string }): string {
  const action = `/interaction/${encodeURIComponent(opts.uid)}/login`;
  const error = opts.error ? `<p class="error" role="alert">${escapeHtml(opts.error)}</p>` : '';
  return page(
    'Sign in to Circle of Trust',
    `<p>Local development sign-in for <strong>${escapeHtml(opts.clientId)}</strong>. Any username works; there are no passwords.</p>
${error}
<form method="post" action="${escapeHtml(action)}" autocomplete="off">
<label for="username">Username</label>
<input id="username" name="username" required autofocus maxlength="64" pattern="[a-z0-9._\\-]{1,64}" value="${escapeHtml(opts.username ?? '')}">
<button type="submit">Sign in</button>
</form>`,
  );
}

/** An error page for the browser; `out` holds the OAuth `error` and `error_description`. */
export function errorPage(out: Record<string, unknown>): string {
  const error = typeof out.error === 'string' ? out.error : 'server_error';
  const description = typeof out.error_description === 'string' ? out.error_description : '';
  return page(
    'Sign-in failed',
    `<p class="error" role="alert"><strong>${escapeHtml(error)}</strong>${description ? `: ${escapeHtml(description)}` : ''}</p>`,
  );
}
