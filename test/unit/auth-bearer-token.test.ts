import { describe, expect, it } from 'vitest';
import { bearerToken, createJwtVerifier } from '../../services/shared/auth/jwt-verifier.js';
import { AuthError } from '../../services/shared/auth/errors.js';
import { ConfigError } from '../../services/shared/errors.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof AuthError ? err.code : `not an AuthError: ${String(err)}`;
  }
}

describe('bearerToken', () => {
  it('returns the token of a Bearer header whatever the scheme’s case', () => {
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken('bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken('BEARER   abc.def.ghi  ')).toBe('abc.def.ghi');
  });

  it('throws missing_token for an absent, empty or non-Bearer header', () => {
    for (const header of [undefined, '', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'abc.def.ghi', 'Bearer a b']) {
      expect(codeOf(() => bearerToken(header))).toBe('missing_token');
    }
  });

  it('never repeats the header in its message', () => {
    try {
      bearerToken('Token secret-value');
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).not.toContain('secret-value');
    }
  });
});

describe('createJwtVerifier', () => {
  const base = { issuer: 'https://idp.example', audience: 'circle-of-trust' };

  it('refuses an allow-list that contains none, in any case', () => {
    expect(() => createJwtVerifier({ ...base, algorithms: ['RS256', 'none'] })).toThrow(ConfigError);
    expect(() => createJwtVerifier({ ...base, algorithms: ['NONE'] })).toThrow(ConfigError);
  });

  it('refuses an empty allow-list', () => {
    expect(() => createJwtVerifier({ ...base, algorithms: [' '] })).toThrow(ConfigError);
  });

  it('rejects a missing token as missing_token without contacting the issuer', async () => {
    const verifier = createJwtVerifier({ ...base, algorithms: ['RS256'] });

    await expect(verifier.verify('')).rejects.toMatchObject({ name: 'AuthError', code: 'missing_token' });
  });

  it('rejects garbage and unsigned tokens before fetching any key', async () => {
    // The issuer does not exist: reaching it would fail with a key-fetch message instead.
    const verifier = createJwtVerifier({ ...base, algorithms: ['RS256'] });
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"a"}').toString('base64url')}.`;

    await expect(verifier.verify('garbage')).rejects.toMatchObject({ code: 'invalid_token', message: expect.stringMatching(/malformed/) });
    await expect(verifier.verify(unsigned)).rejects.toMatchObject({ code: 'invalid_token', message: expect.stringMatching(/algorithm/) });
  });
});
