// A stand-in for a tenant's REST API, in front of the reference server. The reference
// serves only the OAuth endpoints, but @qlik/api refreshes tokens only when a REST call
// answers 401, so its refresh path needs a resource server to be exercised as in real use.
// `/oauth/*` and `/.well-known/*` are forwarded to the reference unchanged;
// `GET /api/v1/users/me` accepts a Bearer token that the reference accepts as a
// token-exchange subject, and can be told to answer the next call with 401.
import http from 'node:http';
import { createHash } from 'node:crypto';
import * as probe from './probe.js';

const FORWARDED_REQUEST_HEADERS = ['authorization', 'content-type', 'accept', 'cookie'];
const FORWARDED_RESPONSE_HEADERS = ['content-type', 'cache-control', 'location', 'www-authenticate', 'set-cookie', 'retry-after'];

function fingerprint(token) {
  return createHash('sha256').update(token).digest('hex').slice(0, 16);
}

function envelope(res, status, code, title) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ errors: [{ title, code, status: String(status) }] }));
}

async function forward(upstream, req, res) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const headers = {};
  for (const name of FORWARDED_REQUEST_HEADERS) {
    if (req.headers[name]) headers[name] = req.headers[name];
  }
  const reply = await fetch(upstream + req.url, {
    method: req.method,
    headers,
    body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
    redirect: 'manual',
  });
  const out = {};
  for (const name of FORWARDED_RESPONSE_HEADERS) {
    const value = name === 'set-cookie' ? reply.headers.getSetCookie() : reply.headers.get(name);
    if (value && value.length !== 0) out[name] = value;
  }
  res.writeHead(reply.status, out);
  res.end(Buffer.from(await reply.arrayBuffer()));
}

/**
 * Starts the stand-in on a free loopback port. `clientId` is the client whose tokens it
 * accepts (a token exchange must name the subject token's client).
 */
export async function startResourceServer(upstream, clientId) {
  const state = {
    rejectNext: false,
    /** SHA-256 fingerprints of the Bearer tokens seen on /api/v1/users/me, in order, with the verdict. */
    seen: [],
  };
  const server = http.createServer(async (req, res) => {
    try {
      const path = new URL(req.url, 'http://stand-in').pathname;
      if (path.startsWith('/oauth/') || path.startsWith('/.well-known/')) {
        await forward(upstream, req, res);
        return;
      }
      if (req.method === 'GET' && path === '/api/v1/users/me') {
        const header = req.headers.authorization ?? '';
        const token = header.startsWith('Bearer ') ? header.slice(7) : '';
        if (!token) {
          envelope(res, 401, 'HTTP-401', 'Missing bearer token');
          return;
        }
        if (state.rejectNext) {
          state.rejectNext = false;
          state.seen.push({ token: fingerprint(token), accepted: false });
          envelope(res, 401, 'HTTP-401', 'Token expired');
          return;
        }
        const { status } = await probe.exchange(upstream, clientId, token);
        const accepted = status === 200;
        state.seen.push({ token: fingerprint(token), accepted });
        if (!accepted) {
          envelope(res, 401, 'HTTP-401', 'Invalid token');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'me', status: 'active' }));
        return;
      }
      envelope(res, 404, 'HTTP-404', 'Not found');
    } catch (err) {
      envelope(res, 502, 'HTTP-502', `Upstream failed: ${err.message}`);
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    state,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
