// oauth4webapi, a generic RFC-strict OAuth 2 client, against the reference over TLS: it
// insists on https, form-encodes every request, reads the RFC 8414 metadata, and checks
// token responses against RFC 6749 5.1 (token_type, expires_in, scope types).
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { randomUUID, createPrivateKey, webcrypto } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import { ACCESS_TOKEN_TYPE, IMPERSONATION, TOKEN_EXCHANGE, client, keyFile, target, user } from '../lib/env.js';
import { authorizeInBrowser } from '../lib/idp.js';
import { accessTokenDead, accessTokenWorks, distinct, isToken, m2mTokenWorks, refreshTokenDead } from '../lib/check.js';
import { versionOf } from '../lib/versions.js';

const { baseUrl } = target('https');
const confidential = client('web-confidential');
const native = client('native-public');
const impersonator = client('web-impersonation');
const assertion = client('web-assertion');

async function importKey(file, algorithm) {
  const der = createPrivateKey(readFileSync(keyFile(file))).export({ format: 'der', type: 'pkcs8' });
  return webcrypto.subtle.importKey('pkcs8', der, algorithm, false, ['sign']);
}

/** Builds the authorize URL as oauth4webapi's documentation does, plays the browser, and redeems the code. */
async function codeFlow(as, c, redirectUri, clientAuth) {
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const url = new URL(as.authorization_endpoint);
  for (const [k, v] of Object.entries({
    client_id: c.client_id, redirect_uri: redirectUri, response_type: 'code', scope: 'user_default offline_access',
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state,
    login_hint: user('alice@example.com').email,
  })) url.searchParams.set(k, v);
  const params = oauth.validateAuthResponse(as, c, new URL(await authorizeInBrowser(url.href, redirectUri)), state);
  const res = await oauth.authorizationCodeGrantRequest(as, c, clientAuth, params, redirectUri, verifier);
  return oauth.processAuthorizationCodeResponse(as, c, res);
}

describe(`${versionOf('oauth4webapi')} [https]`, () => {
  let as;

  before(async () => {
    const issuer = new URL(baseUrl);
    const res = await oauth.discoveryRequest(issuer, { algorithm: 'oauth2' });
    as = await oauth.processDiscoveryResponse(issuer, res);
  });

  it('discovery (RFC 8414): issuer matches and the three endpoints are advertised', () => {
    for (const endpoint of ['authorization_endpoint', 'token_endpoint', 'revocation_endpoint']) {
      assert.ok(typeof as[endpoint] === 'string' && as[endpoint].startsWith(baseUrl), `${endpoint} is ${as[endpoint]}`);
    }
  });

  for (const [name, method] of [
    ['client_secret_basic', () => oauth.ClientSecretBasic(confidential.secret)],
    ['client_secret_post', () => oauth.ClientSecretPost(confidential.secret)],
  ]) {
    it(`client_credentials with ${name}`, async () => {
      const res = await oauth.clientCredentialsGrantRequest(as, { client_id: confidential.id }, method(), { scope: 'user_default' });
      const tokens = await oauth.processClientCredentialsResponse(as, { client_id: confidential.id }, res);
      isToken(tokens.access_token, 'access token');
      assert.equal(tokens.token_type, 'bearer');
      assert.ok(tokens.expires_in > 0, 'expires_in');
      assert.equal(tokens.refresh_token, undefined, 'client_credentials must not issue a refresh token');
      await m2mTokenWorks(baseUrl, confidential.id, tokens.access_token, 'client_credentials access token');
    });
  }

  for (const [kid, file, algorithm] of [
    ['assertion-es384', 'assertion-es384.pem', { name: 'ECDSA', namedCurve: 'P-384' }],
    ['assertion-rs256', 'assertion-rs256.pem', { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }],
  ]) {
    it(`client_credentials with private_key_jwt (RFC 7523, ${kid})`, async () => {
      const key = await importKey(file, algorithm);
      // Qlik wants aud = the token endpoint exactly and a fresh UUID jti (notes section 2).
      const auth = oauth.PrivateKeyJwt({ key, kid }, {
        [oauth.modifyAssertion]: (_header, payload) => {
          payload.aud = as.token_endpoint;
          payload.jti = randomUUID();
        },
      });
      const res = await oauth.clientCredentialsGrantRequest(as, { client_id: assertion.id }, auth, { scope: 'user_default' });
      const tokens = await oauth.processClientCredentialsResponse(as, { client_id: assertion.id }, res);
      isToken(tokens.access_token, 'access token');
      assert.equal(tokens.token_type, 'bearer');
    });
  }

  describe('authorization code with PKCE, native public client', () => {
    const c = { client_id: native.id, token_endpoint_auth_method: 'none' };
    let tokens;

    it('code flow through the test IdP', async () => {
      tokens = await codeFlow(as, c, native.redirectUri, oauth.None());
      isToken(tokens.access_token, 'access token');
      isToken(tokens.refresh_token, 'refresh token');
      assert.equal(tokens.token_type, 'bearer');
      await accessTokenWorks(baseUrl, native.id, tokens.access_token, 'authorization code access token');
    });

    for (const purpose of ['websocket', 'webresource']) {
      it(`token exchange (RFC 8693), purpose ${purpose}`, async () => {
        assert.ok(tokens, 'needs the code flow');
        const res = await oauth.genericTokenEndpointRequest(as, c, oauth.None(), TOKEN_EXCHANGE, {
          subject_token: tokens.access_token,
          subject_token_type: ACCESS_TOKEN_TYPE,
          purpose,
        });
        const exchanged = await oauth.processGenericTokenEndpointResponse(as, c, res);
        isToken(exchanged.access_token, 'exchanged token');
        distinct(exchanged.access_token, tokens.access_token, 'exchanged token vs subject');
        assert.equal(typeof exchanged.issued_token_type, 'string', 'issued_token_type (RFC 8693 2.2.1)');
      });
    }

    it('refresh rotates the refresh token; the old one is dead', async () => {
      assert.ok(tokens, 'needs the code flow');
      const res = await oauth.refreshTokenGrantRequest(as, c, oauth.None(), tokens.refresh_token);
      const next = await oauth.processRefreshTokenResponse(as, c, res);
      isToken(next.access_token, 'refreshed access token');
      isToken(next.refresh_token, 'rotated refresh token');
      distinct(next.refresh_token, tokens.refresh_token, 'rotated refresh token');
      await accessTokenWorks(baseUrl, native.id, next.access_token, 'refreshed access token');
      const old = tokens;
      tokens = next;
      await refreshTokenDead(baseUrl, native, old.refresh_token, 'the refresh token before rotation');
    });

    it('revocation (RFC 7009) of the refresh token kills it and its access token', async () => {
      // A fresh grant: the previous step's reuse check may have revoked the whole family.
      const grant = await codeFlow(as, c, native.redirectUri, oauth.None());
      const res = await oauth.revocationRequest(as, c, oauth.None(), grant.refresh_token, { additionalParameters: { token_type_hint: 'refresh_token' } });
      await oauth.processRevocationResponse(res);
      await refreshTokenDead(baseUrl, native, grant.refresh_token, 'revoked refresh token');
      await accessTokenDead(baseUrl, native.id, grant.access_token, 'access token of a revoked refresh token');
    });
  });

  it('authorization code with PKCE and refresh, confidential client (client_secret_basic)', async () => {
    const c = { client_id: confidential.id };
    const auth = oauth.ClientSecretBasic(confidential.secret);
    const grant = await codeFlow(as, c, confidential.redirectUri, auth);
    isToken(grant.access_token, 'access token');
    isToken(grant.refresh_token, 'refresh token');
    await accessTokenWorks(baseUrl, confidential.id, grant.access_token, 'authorization code access token');
    const next = await oauth.processRefreshTokenResponse(as, c, await oauth.refreshTokenGrantRequest(as, c, auth, grant.refresh_token));
    isToken(next.refresh_token, 'rotated refresh token');
    distinct(next.refresh_token, grant.refresh_token, 'rotated refresh token');
    await accessTokenWorks(baseUrl, confidential.id, next.access_token, 'refreshed access token');
  });

  it('impersonation with form-encoded user_lookup[field]/[value] and client_secret_post', async () => {
    const c = { client_id: impersonator.id };
    const res = await oauth.genericTokenEndpointRequest(as, c, oauth.ClientSecretPost(impersonator.secret), IMPERSONATION, {
      scope: 'user_default',
      'user_lookup[field]': 'subject',
      'user_lookup[value]': user('alice@example.com').subject,
    });
    const tokens = await oauth.processGenericTokenEndpointResponse(as, c, res);
    isToken(tokens.access_token, 'impersonation token');
    await accessTokenWorks(baseUrl, impersonator.id, tokens.access_token, 'impersonation access token');
    const revoked = await oauth.revocationRequest(as, c, oauth.ClientSecretBasic(impersonator.secret), tokens.access_token);
    await oauth.processRevocationResponse(revoked);
    await accessTokenDead(baseUrl, impersonator.id, tokens.access_token, 'revoked impersonation token');
  });
});
