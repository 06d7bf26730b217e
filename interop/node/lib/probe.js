// Raw HTTP probes, independent of any client library, that tell whether a token a client
// holds is alive. The reference has no resource API, so an access token proves itself as
// the subject of a token exchange (RFC 8693) and a refresh token by being redeemed.
import { createHash, randomBytes } from 'node:crypto';
import { ACCESS_TOKEN_TYPE, LOGIN_HINT, TOKEN_EXCHANGE } from './env.js';
import { authorizeInBrowser } from './idp.js';

async function postJson(url, body, headers = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json };
}

/** Exchanges `accessToken` (issued to `clientId`) as @qlik/api does; resolves to the HTTP status and body. */
export function exchange(baseUrl, clientId, accessToken, purpose = 'websocket') {
  return postJson(`${baseUrl}/oauth/token`, {
    subject_token: accessToken,
    subject_token_type: ACCESS_TOKEN_TYPE,
    grant_type: TOKEN_EXCHANGE,
    purpose,
    client_id: clientId,
  });
}

/** Redeems `refreshToken`; a confidential client authenticates with Basic. */
export function refresh(baseUrl, client, refreshToken) {
  const headers = {};
  const body = { grant_type: 'refresh_token', refresh_token: refreshToken };
  if (client.secret) {
    headers.authorization = `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`;
  } else {
    body.client_id = client.id;
  }
  return postJson(`${baseUrl}/oauth/token`, body, headers);
}

/** The `code`s of an `Errors` envelope, for failure messages (never the tokens). */
export function errorCodes(json) {
  return (json?.errors ?? []).map((e) => `${e.status} ${e.code} ${e.title}`).join('; ');
}

/**
 * Runs an authorization code grant with PKCE outside any client library (Basic for a
 * confidential client), for tests that need a user's token pair to hand to a client.
 */
export async function codeGrant(baseUrl, client, scope) {
  const verifier = randomBytes(48).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const url = new URL(`${baseUrl}/oauth/authorize`);
  for (const [k, v] of Object.entries({
    response_type: 'code', client_id: client.id, redirect_uri: client.redirectUri, scope,
    state: randomBytes(8).toString('hex'), code_challenge: challenge, code_challenge_method: 'S256',
    login_hint: LOGIN_HINT,
  })) url.searchParams.set(k, v);
  const callback = new URL(await authorizeInBrowser(url.href, client.redirectUri));
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`the authorize step returned no code (error=${callback.searchParams.get('error')})`);
  const headers = {};
  if (client.secret) headers.authorization = `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`;
  const { status, json } = await postJson(`${baseUrl}/oauth/token`, {
    grant_type: 'authorization_code', code, redirect_uri: client.redirectUri, code_verifier: verifier, client_id: client.id,
  }, headers);
  if (status !== 200) throw new Error(`code exchange failed: HTTP ${status} ${errorCodes(json)}`);
  return json;
}
