/**
 * The local provider's only pages: a username form with one-click demo users, and an error
 * page. No password, no styling beyond what makes them clear and accessible — they stand in
 * for PingID's hosted login.
 */
import { DEMO_USERS, USERNAME_RULE } from './oidc.constants.js';

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
  'body{font-family:system-ui,sans-serif;max-width:24rem;margin:4rem auto;padding:0 1rem;line-height:1.4;color:#1a1a1a;background:#fff}' +
  'input,button{font:inherit;padding:.5rem;width:100%;box-sizing:border-box;margin:.3rem 0}' +
  'button{cursor:pointer}:focus-visible{outline:3px solid #1a55c4;outline-offset:2px}' +
  '.hint{color:#4a4a4a;font-size:.9rem;margin:.2rem 0 .6rem}.error{color:#b00020}' +
  'fieldset{border:1px solid #767676;margin:1.5rem 0 0;padding:.5rem 1rem 1rem}' +
  '.demo{list-style:none;margin:0;padding:0}';

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title><style>${PAGE_STYLE}</style></head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
${body}
</main>
</body>
</html>`;
}

/**
 * The sign-in page for interaction `uid`: a username field (first form: what the token
 * client fills in), then one button per demo user; `error` is shown above the field.
 */
export function loginPage(opts: { uid: string; clientId: string; error?: string; username?: string }): string {
  const action = escapeHtml(`/interaction/${encodeURIComponent(opts.uid)}/login`);
  const error = opts.error ? `<p class="error" id="username-error" role="alert">${escapeHtml(opts.error)}</p>` : '';
  const describedBy = opts.error ? 'username-error username-rule' : 'username-rule';
  const demoUsers = DEMO_USERS.map(
    (user) => `<li><button type="submit" name="username" value="${escapeHtml(user)}">Sign in as ${escapeHtml(user)}</button></li>`,
  ).join('\n');
  return page(
    'Sign in to Circle of Trust',
    `<p>Local development sign-in for <strong>${escapeHtml(opts.clientId)}</strong>. There are no passwords: any username signs in.</p>
${error}
<form method="post" action="${action}" autocomplete="off">
<label for="username">Username</label>
<input id="username" name="username" required autofocus maxlength="64" pattern="[a-z0-9._\\-]{1,64}" aria-describedby="${describedBy}"${opts.error ? ' aria-invalid="true"' : ''} value="${escapeHtml(opts.username ?? '')}">
<p class="hint" id="username-rule">${escapeHtml(USERNAME_RULE)}</p>
<button type="submit">Sign in</button>
</form>
<form method="post" action="${action}">
<fieldset>
<legend>Or pick a demo user</legend>
<ul class="demo">
${demoUsers}
</ul>
</fieldset>
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

/** The confirmation the provider asks for before it ends a session; `form` is its own form (a hidden xsrf field). */
export function logoutPage(form: string): string {
  return page(
    'Sign out of Circle of Trust?',
    `<p>This ends your session at the local development sign-in; the application then shows its signed-out page.</p>
${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>`,
  );
}

/** Shown after a sign-out that names no application to return to. */
export function signedOutPage(): string {
  return page('Signed out', '<p>You are signed out of the local development sign-in. You can close this page.</p>');
}
