// @qlik/sdk (TypeScript SDK) in Node against the reference: every grant it can send.
// What it sends (dist/mjs/auth/{auth,restClient}.js, utils/{oauthUtils,utils}.js):
// - `authorize()` without a callback URL: client_credentials, JSON body + Basic;
// - `generateAuthorizationUrl()` + `authorize(callbackUrl)`: authorization code with PKCE,
//   JSON body with client_id (+ Basic when a secret is configured);
// - `refreshToken()`: JSON {grant_type, refresh_token} (+ Basic), offline_access required;
// - `generateWebsocketUrl(appId, true)`: token exchange, purpose websocket;
// - `deauthorize()`: POST /oauth/revoke {token, token_type_hint} with `Bearer <that token>`.
// It has no impersonation grant.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Auth, AuthType } from '@qlik/sdk';
import { client, target } from '../env.js';
import { authorizeInBrowser, withLoginHint } from '../idp.js';
import { accessTokenDead, accessTokenWorks, distinct, isToken, m2mTokenDead, m2mTokenWorks, refreshTokenDead, within } from '../check.js';
import { versionOf } from '../versions.js';

async function codeFlow(auth, redirectUri) {
  const { url } = await auth.generateAuthorizationUrl();
  const callback = await authorizeInBrowser(withLoginHint(url), redirectUri);
  return within(auth.authorize(callback), 'authorize(callbackUrl)');
}

export function defineQlikSdkSuite(targetName) {
  const { baseUrl } = target(targetName);
  const confidential = client('web-confidential');
  const native = client('native-public');

  describe(`${versionOf('@qlik/sdk')} [${targetName}]`, () => {
    it('client_credentials: authorize() with Basic returns a working token, deauthorize() revokes it', async () => {
      const auth = new Auth({ authType: AuthType.OAuth2, host: baseUrl, clientId: confidential.id, clientSecret: confidential.secret });
      const res = await within(auth.authorize(), 'authorize()');
      isToken(res.access_token, 'client_credentials access token');
      assert.equal(res.refresh_token, undefined, 'client_credentials must not issue a refresh token');
      await m2mTokenWorks(baseUrl, confidential.id, res.access_token, 'client_credentials access token');
      await within(auth.deauthorize(), 'deauthorize()');
      await m2mTokenDead(baseUrl, confidential.id, res.access_token, 'revoked client_credentials token');
    });

    it('a wrong secret: authorize() throws AuthorizationError carrying the 401 Errors envelope', async () => {
      const auth = new Auth({ authType: AuthType.OAuth2, host: baseUrl, clientId: confidential.id, clientSecret: 'not-the-secret' });
      await assert.rejects(within(auth.authorize(), 'authorize()'), (err) => {
        assert.equal(err.name, 'AuthorizationError', `expected AuthorizationError, got ${err.name}: ${err.message}`);
        assert.equal(err.status, 401);
        assert.equal(err.errors?.[0]?.status, '401', 'the body is not an Errors envelope with status "401"');
        return true;
      });
    });

    describe('authorization code with PKCE, native public client', () => {
      const auth = new Auth({
        authType: AuthType.OAuth2,
        host: baseUrl,
        clientId: native.id,
        redirectUri: native.redirectUri,
        scopes: ['offline_access'],
      });
      let first;

      it('authorize(callbackUrl) returns a working access token and a refresh token', async () => {
        first = await codeFlow(auth, native.redirectUri);
        isToken(first.access_token, 'authorization code access token');
        isToken(first.refresh_token, 'authorization code refresh token');
        await accessTokenWorks(baseUrl, native.id, first.access_token, 'authorization code access token');
      });

      it('generateWebsocketUrl(appId, true) exchanges the token (purpose websocket)', async () => {
        assert.ok(first, 'needs the previous step');
        const wsUrl = new URL(await within(auth.generateWebsocketUrl('interop-app', true), 'generateWebsocketUrl'));
        assert.equal(wsUrl.pathname, '/app/interop-app');
        const exchanged = wsUrl.searchParams.get('accessToken');
        isToken(exchanged, 'websocket token');
        distinct(exchanged, first.access_token, 'websocket token vs access token');
      });

      it('refreshToken() rotates both tokens; the new ones work and the old refresh token is dead', async () => {
        assert.ok(first, 'needs the previous step');
        const res = await within(auth.refreshToken(), 'refreshToken()');
        isToken(res.access_token, 'refreshed access token');
        isToken(res.refresh_token, 'rotated refresh token');
        distinct(res.access_token, first.access_token, 'refreshed access token');
        distinct(res.refresh_token, first.refresh_token, 'rotated refresh token');
        await accessTokenWorks(baseUrl, native.id, res.access_token, 'refreshed access token');
        first.current = res.access_token;
      });

      it('deauthorize() revokes the access token it holds (Bearer, no client credentials)', async () => {
        assert.ok(first?.current, 'needs the previous step');
        await within(auth.deauthorize(), 'deauthorize()');
        await accessTokenDead(baseUrl, native.id, first.current, 'revoked access token');
        // Last: reuse detection may revoke the whole grant (RFC 9700 4.14.2).
        await refreshTokenDead(baseUrl, native, first.refresh_token, 'the refresh token before rotation');
      });
    });

    describe('authorization code with PKCE, confidential client (Basic at the token endpoint)', () => {
      const auth = new Auth({
        authType: AuthType.OAuth2,
        host: baseUrl,
        clientId: confidential.id,
        clientSecret: confidential.secret,
        redirectUri: confidential.redirectUri,
        scopes: ['offline_access'],
      });
      let first;

      it('authorize(callbackUrl) returns working tokens', async () => {
        first = await codeFlow(auth, confidential.redirectUri);
        isToken(first.access_token, 'access token');
        isToken(first.refresh_token, 'refresh token');
        await accessTokenWorks(baseUrl, confidential.id, first.access_token, 'authorization code access token');
      });

      it('refreshToken() with Basic and no client_id in the body', async () => {
        assert.ok(first, 'needs the previous step');
        const res = await within(auth.refreshToken(), 'refreshToken()');
        isToken(res.access_token, 'refreshed access token');
        isToken(res.refresh_token, 'rotated refresh token');
        await accessTokenWorks(baseUrl, confidential.id, res.access_token, 'refreshed access token');
        first.current = res.access_token;
      });

      it('generateWebsocketUrl(appId, true) exchanges with Basic attached', async () => {
        assert.ok(first?.current, 'needs the previous step');
        const wsUrl = new URL(await within(auth.generateWebsocketUrl('interop-app', true), 'generateWebsocketUrl'));
        isToken(wsUrl.searchParams.get('accessToken'), 'websocket token');
      });

      it('deauthorize() revokes the access token it holds', async () => {
        assert.ok(first?.current, 'needs the previous step');
        await within(auth.deauthorize(), 'deauthorize()');
        await accessTokenDead(baseUrl, confidential.id, first.current, 'revoked access token');
      });
    });
  });
}
