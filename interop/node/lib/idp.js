// Plays the browser's part of the authorization code flow against the reference's test
// identity provider: follows its redirects, keeps its cookies, and stops at the client's
// registered redirect URI, whose URL (with `code` and `state`) it returns unopened.
import { LOGIN_HINT } from './env.js';

const MAX_REDIRECTS = 10;

/**
 * Adds `login_hint` so the test IdP signs the fixture user in without a login form. The
 * rest of the URL stays byte for byte as the client built it (@qlik/api and @qlik/sdk do
 * not percent-encode their values), so the server parses what the client really sends.
 */
export function withLoginHint(authorizeUrl, hint = LOGIN_HINT) {
  const sep = authorizeUrl.includes('?') ? '&' : '?';
  return `${authorizeUrl}${sep}login_hint=${encodeURIComponent(hint)}`;
}

function sameEndpoint(candidate, redirectUri) {
  const a = new URL(candidate);
  const b = new URL(redirectUri);
  return a.origin === b.origin && a.pathname === b.pathname;
}

/**
 * Requests `authorizeUrl` the way a browser would and returns the callback URL the server
 * redirected to. Throws with the status and location of the step that went elsewhere.
 */
export async function authorizeInBrowser(authorizeUrl, redirectUri) {
  const cookies = new Map();
  let url = authorizeUrl;
  for (let hop = 0; hop < MAX_REDIRECTS; hop += 1) {
    const headers = {};
    if (cookies.size > 0) {
      headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    }
    const res = await fetch(url, { redirect: 'manual', headers });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq > 0) cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      const next = new URL(location, url).href;
      if (sameEndpoint(next, redirectUri)) return next;
      url = next;
      continue;
    }
    const body = (await res.text()).slice(0, 300);
    throw new Error(`authorize flow stopped at ${new URL(url).pathname} with HTTP ${res.status}: ${body}`);
  }
  throw new Error(`authorize flow did not reach ${redirectUri} within ${MAX_REDIRECTS} redirects`);
}
