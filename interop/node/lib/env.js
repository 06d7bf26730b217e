// Where the reference server runs and what tenant it serves. `interop/run.sh` exports
// these; running a test file by hand needs the same variables.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..', '..');

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: start the reference server and export it (interop/run.sh does both)`);
  }
  return value.replace(/\/+$/, '');
}

/**
 * Both transports the suites run over. The official clients are driven over each, since a
 * tenant is https but local stand-ins are often plain http; the generic clients insist on
 * https and run over TLS only.
 */
export function targets() {
  return [
    { name: 'http', baseUrl: required('QOAUTH_HTTP_URL') },
    { name: 'https', baseUrl: required('QOAUTH_HTTPS_URL') },
  ];
}

export function target(name) {
  const found = targets().find((t) => t.name === name);
  if (!found) throw new Error(`no target named ${name}`);
  return found;
}

const fixturePath = process.env.QOAUTH_FIXTURE || path.join(repoRoot, 'suite', 'reference', 'fixtures', 'default.json');
const fixture = JSON.parse(readFileSync(fixturePath, 'utf8'));

export function client(id) {
  const found = fixture.clients.find((c) => c.client_id === id);
  if (!found) throw new Error(`client ${id} is not in the fixture ${fixturePath}`);
  return {
    id: found.client_id,
    secret: found.secrets?.[0],
    redirectUri: found.redirect_uris.find((u) => u.startsWith('http://127.0.0.1')) ?? found.redirect_uris[0],
  };
}

export function user(email) {
  const found = fixture.users.find((u) => u.email === email);
  if (!found) throw new Error(`user ${email} is not in the fixture ${fixturePath}`);
  return found;
}

export function keyFile(name) {
  return path.join(repoRoot, 'cases', 'profiles', 'keys', name);
}

/** The fixture user the test IdP signs in when the authorize URL names them. */
export const LOGIN_HINT = 'alice@example.com';
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
export const IMPERSONATION = 'urn:qlik:oauth:user-impersonation';

/** Upper bound for one client call: some clients swallow errors into a promise that never settles. */
export const CALL_TIMEOUT_MS = 10_000;
