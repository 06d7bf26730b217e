// @qlik/api in Node against the reference: every grant it can send.
// What it sends (from its source, chunks/invoke-fetch-functions-*.js):
// - client_credentials and impersonation: JSON body with client_id and client_secret;
// - authorization code with PKCE through `performInteractiveLogin` (the Node way to log a
//   user in), exchanged with client_id and no secret;
// - refresh: only after a REST call answers 401, and only with a secret, JSON
//   {grant_type, refresh_token, client_secret} with no client_id;
// - token exchange: `getWebResourceAuthParams` (purpose webresource); the websocket purpose
//   is browser-only, Node sends the Bearer token on the socket instead.
// It never calls /oauth/revoke.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import auth from '@qlik/api/auth';
import users from '@qlik/api/users';
import { client, target, user } from '../env.js';
import { authorizeInBrowser, withLoginHint } from '../idp.js';
import { accessTokenDead, accessTokenWorks, distinct, isToken, m2mTokenWorks, refreshTokenDead, within } from '../check.js';
import { codeGrant } from '../probe.js';
import { startResourceServer } from '../resource.js';
import { versionOf } from '../versions.js';

/**
 * An `accessTokenStorage` (the SecretStorage interface @qlik/api accepts) that starts with
 * the given tokens and then keeps whatever the client stores.
 */
function secretStorage(seed) {
  const map = new Map();
  const kind = (key) => (key.endsWith('-access-token') ? 'access' : key.endsWith('-refresh-token') ? 'refresh' : undefined);
  const seeded = new Set(['access', 'refresh']);
  return {
    store: async (key, value) => { map.set(key, value); },
    get: async (key) => {
      if (map.has(key)) return map.get(key);
      const k = kind(key);
      return k && seeded.has(k) ? seed[k] : undefined;
    },
    delete: async (key) => {
      map.delete(key);
      seeded.delete(kind(key));
    },
    current: () => {
      const out = {};
      for (const [key, value] of map) out[kind(key)] = value;
      return out;
    },
  };
}

/** The Node login hook of @qlik/api: it hands us the URL; we play the browser. */
function interactiveLogin(redirectUri) {
  return async ({ getLoginUrl }) => {
    const loginUrl = await getLoginUrl({ redirectUri });
    return authorizeInBrowser(withLoginHint(loginUrl), redirectUri);
  };
}

export function defineQlikApiSuite(targetName) {
  const { baseUrl } = target(targetName);
  const confidential = client('web-confidential');
  const impersonator = client('web-impersonation');
  const native = client('native-public');

  describe(`${versionOf('@qlik/api')} [${targetName}]`, () => {
    it('client_credentials: getAccessToken returns a token the server accepts', async () => {
      const hostConfig = { authType: 'oauth2', host: baseUrl, clientId: confidential.id, clientSecret: confidential.secret, noCache: true };
      const token = await within(auth.getAccessToken({ hostConfig }), 'getAccessToken');
      isToken(token, 'client_credentials access token');
      await m2mTokenWorks(baseUrl, confidential.id, token, 'client_credentials access token');
    });

    it('a wrong secret: getAccessToken rejects with the 401 Errors envelope', async () => {
      const hostConfig = { authType: 'oauth2', host: baseUrl, clientId: confidential.id, clientSecret: 'not-the-secret', noCache: true };
      await assert.rejects(within(auth.getAccessToken({ hostConfig }), 'getAccessToken'), (err) => {
        assert.equal(err.errors?.[0]?.status, '401', `expected status "401" in the envelope, got ${err}`);
        return true;
      });
    });

    it('impersonation by subject: getAccessToken returns a working user token', async () => {
      const alice = user('alice@example.com');
      const hostConfig = { authType: 'oauth2', host: baseUrl, clientId: impersonator.id, clientSecret: impersonator.secret, subject: alice.subject, noCache: true };
      const token = await within(auth.getAccessToken({ hostConfig }), 'getAccessToken');
      isToken(token, 'impersonation access token');
      await accessTokenWorks(baseUrl, impersonator.id, token, 'impersonation (subject) access token');
    });

    it('impersonation by userId: getAccessToken returns a working user token', async () => {
      const bob = user('bob@example.com');
      const hostConfig = { authType: 'oauth2', host: baseUrl, clientId: impersonator.id, clientSecret: impersonator.secret, userId: bob.id, noCache: true };
      const token = await within(auth.getAccessToken({ hostConfig }), 'getAccessToken');
      isToken(token, 'impersonation access token');
      await accessTokenWorks(baseUrl, impersonator.id, token, 'impersonation (userId) access token');
    });

    it('impersonation of a disabled user: the client surfaces the 403 envelope', async () => {
      const dave = user('dave@example.com');
      const hostConfig = { authType: 'oauth2', host: baseUrl, clientId: impersonator.id, clientSecret: impersonator.secret, subject: dave.subject, noCache: true };
      await assert.rejects(within(auth.getAccessToken({ hostConfig }), 'getAccessToken'), (err) => {
        assert.equal(err.name === 'AuthorizationError' || Array.isArray(err.errors), true, `expected an AuthorizationError, got ${err}`);
        assert.equal(err.errors?.[0]?.status, '403', `expected status "403" in the envelope, got ${JSON.stringify(err.errors)}`);
        return true;
      });
    });

    it('authorization code with PKCE (native client): performInteractiveLogin yields a working token', async () => {
      const hostConfig = {
        authType: 'oauth2',
        host: baseUrl,
        clientId: native.id,
        scope: 'user_default offline_access',
        performInteractiveLogin: interactiveLogin(native.redirectUri),
      };
      const token = await within(auth.getAccessToken({ hostConfig }), 'getAccessToken (interactive login)');
      isToken(token, 'authorization code access token');
      await accessTokenWorks(baseUrl, native.id, token, 'authorization code access token');

      // Token exchange, purpose webresource, with the token the client holds.
      const params = await within(auth.getWebResourceAuthParams({ hostConfig }), 'getWebResourceAuthParams');
      isToken(params?.queryParams?.accessToken, 'webresource token');
      distinct(params.queryParams.accessToken, token, 'webresource token vs access token');
    });

    describe('refresh after a 401 from a REST call (confidential client)', () => {
      let resource;
      after(async () => resource?.close());

      // @qlik/api cannot log a confidential client in by itself: its code exchange sends no
      // secret (RFC 6749 4.1.3 requires one). A Node app then hands it the user's tokens
      // through its `accessTokenStorage` hook, as a server-side app that stores tokens does.
      it('refreshes the stored refresh token (secret in the body, no client_id) and retries with a new, working token', async () => {
        const seed = await codeGrant(baseUrl, confidential, 'user_default offline_access');
        isToken(seed.refresh_token, 'seeded refresh token');
        const storage = secretStorage({ access: seed.access_token, refresh: seed.refresh_token });
        resource = await startResourceServer(baseUrl, confidential.id);
        const hostConfig = {
          authType: 'oauth2',
          host: resource.url,
          clientId: confidential.id,
          clientSecret: confidential.secret,
          scope: 'user_default offline_access',
          accessTokenStorage: storage,
        };
        const first = await within(users.getMyUser({ hostConfig, noCache: true }), 'getMyUser');
        assert.equal(first.status, 200);

        resource.state.rejectNext = true;
        const second = await within(users.getMyUser({ hostConfig, noCache: true }), 'getMyUser after a 401');
        assert.equal(second.status, 200, 'the retried call after the refresh failed');
        const verdicts = resource.state.seen.map((s) => s.accepted);
        assert.deepEqual(verdicts, [true, false, true], 'resource verdicts: first call, forced 401, retry');
        assert.ok(resource.state.seen[2].token !== resource.state.seen[0].token, 'the retry reused the old token');

        const refreshed = storage.current();
        isToken(refreshed.access, 'refreshed access token');
        isToken(refreshed.refresh, 'rotated refresh token');
        distinct(refreshed.refresh, seed.refresh_token, 'rotated refresh token');
        await accessTokenWorks(baseUrl, confidential.id, refreshed.access, 'refreshed access token');
        await refreshTokenDead(baseUrl, confidential, seed.refresh_token, 'the refresh token before rotation');
      });
    });

    it('a token revoked elsewhere is refused to the client', async () => {
      const hostConfig = { authType: 'oauth2', host: baseUrl, clientId: impersonator.id, clientSecret: impersonator.secret, subject: user('alice@example.com').subject, scope: 'user_default apps:read', noCache: true };
      const token = await within(auth.getAccessToken({ hostConfig }), 'getAccessToken');
      const res = await fetch(`${baseUrl}/oauth/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token, token_type_hint: 'access_token' }),
      });
      assert.equal(res.status, 200);
      await accessTokenDead(baseUrl, impersonator.id, token, 'revoked impersonation token');
    });
  });
}
