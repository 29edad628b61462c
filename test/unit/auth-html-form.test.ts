import { describe, expect, it } from 'vitest';
import { alertText, firstForm } from '../../services/local/oidc/html-form.js';
import { loginPage } from '../../services/local/oidc/login-page.js';
import { DEMO_USERS } from '../../services/local/oidc/oidc.constants.js';

describe('firstForm', () => {
  const page = new URL('http://127.0.0.1:4000/interaction/uid-1');

  it('reads the provider’s login form: action, method and the username field', () => {
    const form = firstForm(loginPage({ uid: 'uid-1', clientId: 'cot-cli' }), page);

    expect(form?.action.href).toBe('http://127.0.0.1:4000/interaction/uid-1/login');
    expect(form?.method).toBe('POST');
    expect([...(form?.fields ?? new Map())]).toEqual([['username', '']]);
  });

  it('keeps hidden field values and decodes entities in attributes', () => {
    const html = `<form action="/confirm?a=1&amp;b=2" method=post><input type="hidden" name="prompt" value="consent &quot;x&quot;"><button name=ok value='yes'>OK</button></form>`;

    const form = firstForm(html, page);

    expect(form?.action.href).toBe('http://127.0.0.1:4000/confirm?a=1&b=2');
    expect(Object.fromEntries(form?.fields ?? [])).toEqual({ prompt: 'consent "x"', ok: 'yes' });
  });

  it('returns undefined for a page without a form', () => {
    expect(firstForm('<p>nothing here</p>', page)).toBeUndefined();
  });
});

describe('alertText', () => {
  it('reads the error line the login page shows, escaped text included', () => {
    const html = loginPage({ uid: 'u', clientId: 'c', error: 'names use "a-z" & <digits>' });

    expect(alertText(html)).toBe('names use "a-z" & <digits>');
  });

  it('returns undefined when the page shows no error', () => {
    expect(alertText(loginPage({ uid: 'u', clientId: 'c' }))).toBeUndefined();
  });
});

describe('loginPage', () => {
  it('offers each demo user as a button of its own form that submits the name', () => {
    const html = loginPage({ uid: 'uid-1', clientId: 'cot-web' });
    const forms = [...html.matchAll(/<form\b[^>]*>([\s\S]*?)<\/form>/g)].map((m) => m[1] ?? '');
    expect(forms).toHaveLength(2);
    // The demo buttons sit outside the form with the required field, so a click never trips its validation.
    expect(forms[0]).not.toMatch(/Sign in as/);
    const buttons = [...(forms[1] ?? '').matchAll(/<button type="submit" name="username" value="([^"]+)">Sign in as ([^<]+)<\/button>/g)];
    expect(buttons.map((b) => [b[1], b[2]])).toEqual(DEMO_USERS.map((user) => [user, user]));
  });

  it('labels the field, ties the rule and the error to it, and marks it invalid after a bad name', () => {
    const html = loginPage({ uid: 'u', clientId: 'c', error: 'bad name', username: 'Bad Name' });
    expect(html).toMatch(/<label for="username">Username<\/label>/);
    expect(html).toMatch(/<input id="username"[^>]*aria-describedby="username-error username-rule"[^>]*aria-invalid="true"[^>]*value="Bad Name">/);
    expect(html).toMatch(/<p class="error" id="username-error" role="alert">bad name<\/p>/);
  });
});
