// Assertions over tokens that never print a token: node:test reports the actual and
// expected values of a failed assert, and those would be secrets here.
import assert from 'node:assert/strict';
import { CALL_TIMEOUT_MS } from './env.js';
import * as probe from './probe.js';

export function isToken(value, what) {
  assert.ok(typeof value === 'string' && value.length >= 16, `${what} is not a token (${typeof value}, length ${value?.length ?? 0})`);
}

export function distinct(a, b, what) {
  assert.ok(a !== b, `${what}: expected two different tokens, got the same one twice`);
}

/** Asserts that `accessToken` is accepted as a token-exchange subject for `clientId`. */
export async function accessTokenWorks(baseUrl, clientId, accessToken, what) {
  const { status, json } = await probe.exchange(baseUrl, clientId, accessToken);
  assert.ok(status === 200 && typeof json?.access_token === 'string', `${what} was refused as an exchange subject: HTTP ${status} ${probe.errorCodes(json)}`);
}

/** Asserts that `accessToken` is refused as a token-exchange subject with 401. */
export async function accessTokenDead(baseUrl, clientId, accessToken, what) {
  const { status, json } = await probe.exchange(baseUrl, clientId, accessToken);
  assert.ok(status === 401, `${what} still works as an exchange subject (HTTP ${status}, expected 401 ${probe.errorCodes(json)})`);
  assert.ok(Array.isArray(json?.errors) && json.errors[0]?.status === '401', `${what}: the 401 is not an Errors envelope with status "401"`);
}

/**
 * The refusal the real service gives when the subject of an exchange is a machine-to-machine
 * token (notes section 2, community.qlik.com thread 2076243). The server can only say it
 * after finding the token alive, so it proves a client_credentials token works; a dead or
 * unknown token gets a different detail.
 */
export const M2M_EXCHANGE_REFUSAL = 'Cannot perform exchange with given Oauth configuration.';

/** Asserts that the client_credentials token `accessToken` is alive (see M2M_EXCHANGE_REFUSAL). */
export async function m2mTokenWorks(baseUrl, clientId, accessToken, what) {
  const { status, json } = await probe.exchange(baseUrl, clientId, accessToken);
  const detail = json?.errors?.[0]?.detail;
  assert.ok(status === 401 && detail === M2M_EXCHANGE_REFUSAL, `${what} was not recognized as a live M2M token: HTTP ${status} ${probe.errorCodes(json)} (${detail})`);
}

/** Asserts that the client_credentials token `accessToken` is no longer known. */
export async function m2mTokenDead(baseUrl, clientId, accessToken, what) {
  const { status, json } = await probe.exchange(baseUrl, clientId, accessToken);
  const detail = json?.errors?.[0]?.detail;
  assert.ok(status === 401 && detail !== M2M_EXCHANGE_REFUSAL, `${what} is still known to the server: HTTP ${status} (${detail})`);
}

/** Asserts that redeeming `refreshToken` again is refused with 401 (rotation, RFC 9700 4.14.2). */
export async function refreshTokenDead(baseUrl, client, refreshToken, what) {
  const { status, json } = await probe.refresh(baseUrl, client, refreshToken);
  assert.ok(status === 401, `${what} was redeemed again (HTTP ${status}, expected 401 ${probe.errorCodes(json)})`);
}

/** Fails after CALL_TIMEOUT_MS instead of hanging on a client promise that never settles. */
export async function within(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${CALL_TIMEOUT_MS} ms`)), CALL_TIMEOUT_MS);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
