//! POST /oauth/token: the framing it shares with POST /oauth/revoke, the dispatch by
//! `grant_type`, and what the grants share once a request is admitted (scope checks,
//! issuing tokens, writing the token response). Each grant has its own module, and so has
//! revocation; they meet here because the framing and the token response are common.

mod authorization_code;
mod client_credentials;
mod impersonation;
mod refresh_token;
mod revoke;
mod token_exchange;

use std::collections::HashMap;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::app::{normalize_host, now_ms, read_body, AppState, Shared};
use crate::client_auth::{presented, Presented};
use crate::errors::ApiError;
use crate::parse::{self, Params};
use crate::ratelimit::Tier;
use crate::scope::{ScopeError, ScopeSet};
use crate::store::{new_token, AccessKind, AccessRecord, Family, RefreshRecord};
use crate::time_format::{push_padded, write_iso8601_ms};
use crate::variants::Variant;

pub(crate) use revoke::revoke;

pub(crate) const GRANT_CODE: &str = "authorization_code";
pub(crate) const GRANT_REFRESH: &str = "refresh_token";
pub(crate) const GRANT_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub(crate) const TOKEN_TYPE_ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";

pub(crate) async fn token(State(s): State<Shared>, req: Request) -> Response {
    let credentials_first = s.varies(Variant::InvalidClientFirst);
    post_endpoint(s, req, parse::token_request, token_inner, credentials_first).await
}

/// What an endpoint does with an admitted request: parameters (client credentials taken
/// out), the credentials presented, headers, now (ms).
type EndpointFn =
    fn(&AppState, Params<'_>, &Presented<'_>, &HeaderMap, u64) -> Result<Response, ApiError>;

/// The body-carrying endpoints share their framing: purge, host, size-limited body, parse by
/// content type, one client authentication method (RFC 6749 2.3), the rate limit and the
/// origin check, answer errors as envelopes, and add CORS headers for allowed origins.
async fn post_endpoint(
    s: Shared,
    req: Request,
    parse: for<'a> fn(Option<&str>, &'a [u8]) -> Result<Params<'a>, parse::ParseError>,
    inner: EndpointFn,
    credentials_first: bool,
) -> Response {
    let now = now_ms();
    s.maybe_purge(now);
    let (mut parts, body) = req.into_parts();
    normalize_host(&mut parts);
    let bytes = match read_body(s.reg.max_body_bytes, &parts.headers, body).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let ct = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let (ct, bytes) = crate::varied::body(&s, ct, bytes);
    let peer = AppState::peer(&parts.extensions);
    // Variant `invalid-client-first`: a body that names no client at all, readable or not,
    // is first of all a request without client authentication (RFC 6749 5.2).
    let anonymous = credentials_first && !parts.headers.contains_key(header::AUTHORIZATION);
    let result = match parse(ct.as_deref(), &bytes) {
        Err(_) if anonymous => Err(ApiError::invalid_client(
            "the request carries no client authentication",
        )),
        Ok(p) if anonymous && p == Params::default() => Err(ApiError::invalid_client(
            "the request carries no client authentication",
        )),
        parsed => parsed.map_err(ApiError::from).and_then(|mut p| {
            let pres = admit(&s, &mut p, &parts.headers, peer, now)?;
            inner(&s, p, &pres, &parts.headers, now)
        }),
    };
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    s.cors(&parts.headers, &mut resp);
    resp
}

/// Takes the client's credentials out of the parameters, then applies the client's rate
/// limit (tier 2) and its allowed origins: what both endpoints do before their own rules.
fn admit<'a>(
    s: &AppState,
    p: &mut Params<'a>,
    headers: &HeaderMap,
    peer: Option<std::net::IpAddr>,
    now: u64,
) -> Result<Presented<'a>, ApiError> {
    let pres = presented(
        p,
        headers.get(header::AUTHORIZATION),
        fault!(s, MultipleClientAuth) || s.varies(Variant::OneAuthMethodUsed),
    )?;
    let named = pres
        .client_id
        .as_deref()
        .and_then(|id| s.reg.client(id))
        .map(|(i, _)| i);
    s.rate_check(named, peer, Tier::Two, now)?;
    s.origin_check(headers, named)?;
    Ok(pres)
}

/// The answer to a code or refresh grant without its code or token: 400 invalid_request,
/// or 401 invalid_grant under the variant `missing-grant-401`.
fn missing_grant(s: &AppState, why: &'static str) -> ApiError {
    if s.varies(crate::variants::Variant::MissingGrant401) {
        ApiError::invalid_grant(why)
    } else {
        ApiError::invalid_request(why)
    }
}

/// One token request as each grant reads it: the server, the parsed parameters, the
/// client's credentials, the headers and the time.
#[derive(Clone, Copy)]
pub(super) struct Call<'r, 'b> {
    s: &'r AppState,
    p: &'r Params<'b>,
    pres: &'r Presented<'b>,
    headers: &'r HeaderMap,
    now: u64,
}

fn token_inner(
    s: &AppState,
    p: Params<'_>,
    pres: &Presented<'_>,
    headers: &HeaderMap,
    now: u64,
) -> Result<Response, ApiError> {
    let grant = p
        .grant_type
        .as_deref()
        .ok_or_else(|| ApiError::invalid_request("grant_type is required (RFC 6749 4)"))?;
    let call = Call {
        s,
        p: &p,
        pres,
        headers,
        now,
    };
    let result = match grant {
        crate::fixture::GRANT_CLIENT_CREDENTIALS => client_credentials::grant(&call),
        GRANT_CODE => authorization_code::grant(&call),
        GRANT_REFRESH => refresh_token::grant(&call),
        GRANT_EXCHANGE => token_exchange::grant(&call),
        crate::fixture::GRANT_IMPERSONATION => impersonation::grant(&call),
        _ => Err(ApiError::unsupported_grant_type()),
    };
    result.map_err(|e| crate::varied::refusal_status(s, e))
}

/// The scope a client_credentials or impersonation request is granted: the request within
/// the allow list, refused beyond it, or (variant `scope-narrowing`, RFC 6749 3.3) narrowed
/// to its allowed part; the token response always names what was granted.
fn requested_scope(
    s: &AppState,
    requested: Option<&str>,
    allowed: ScopeSet,
) -> Result<ScopeSet, ApiError> {
    let allowed = if fault!(s, ScopeAllowListIgnored) {
        // Every declared scope (at most 128: the fixture loader's limit).
        ScopeSet(u128::MAX >> (128 - s.reg.scopes.len().clamp(1, 128)))
    } else {
        allowed
    };
    match ScopeSet::request(&s.reg, requested, allowed) {
        Err(e) if s.varies(Variant::ScopeNarrowing) || fault!(s, NarrowedScopeUnstated) => {
            ScopeSet::allowed_part(&s.reg, requested, allowed).ok_or_else(|| scope_error(e))
        }
        r => r.map_err(scope_error),
    }
}

fn scope_error(e: ScopeError) -> ApiError {
    match e {
        ScopeError::Unknown => ApiError::invalid_scope("a requested scope is unknown"),
        ScopeError::NotAllowed => {
            ApiError::invalid_scope("a requested scope is not allowed for this client or grant")
        }
    }
}

/// Live tokens a user may hold from `client` (spec POST /oauth/token 403 "maximum number of
/// tokens").
pub(super) fn token_cap(s: &AppState, client: u32) -> u64 {
    if fault!(s, TokenCapIgnored) {
        return u64::MAX;
    }
    s.reg.clients[client as usize].max_tokens
}

/// Issues a standalone access token (client_credentials, impersonation).
fn issue_plain(
    s: &AppState,
    client: u32,
    user: u32,
    scope: ScopeSet,
    now: u64,
    scope_stated: bool,
) -> Result<Response, ApiError> {
    if !s.store.reserve(client, user, token_cap(s, client)) {
        return Err(ApiError::too_many_tokens());
    }
    let ttl = s.reg.access_ttl;
    let (access, h) = new_token();
    s.store.access.insert(
        h,
        AccessRecord {
            expires_ms: now + ttl * 1000,
            scope,
            family: 0,
            client,
            user,
            kind: AccessKind::Regular,
        },
    );
    Ok(token_response(
        s,
        &Answer {
            access: &access,
            expires_in: ttl,
            now,
            scope: scope_stated.then_some(scope),
            refresh: None,
            auth_time: None,
            exchanged: false,
        },
    ))
}

/// What a token response says, field by field.
struct Answer<'a> {
    access: &'a str,
    expires_in: u64,
    now: u64,
    /// `None` leaves `scope` out (only fault `narrowed-scope-unstated` does).
    scope: Option<ScopeSet>,
    refresh: Option<&'a str>,
    auth_time: Option<u64>,
    /// A token exchange answer, which names the issued token type.
    exchanged: bool,
}

/// Writes a token response by hand: every value is base64url, a number, a date or a
/// fixture scope (RFC 6749 3.3 characters), so nothing needs JSON escaping.
fn token_response(s: &AppState, a: &Answer<'_>) -> Response {
    let Answer {
        access,
        expires_in,
        now,
        scope,
        refresh,
        auth_time,
        exchanged,
    } = *a;
    let mut b = String::with_capacity(320);
    b.push_str("{\"access_token\":\"");
    b.push_str(access);
    // RFC 6749 5.1 token_type; the spec's enum spells it "bearer" (notes ambiguity 10).
    b.push_str("\",\"token_type\":\"bearer\",\"expires_in\":");
    push_padded(&mut b, expires_in, 1);
    b.push_str(",\"expires_at\":\"");
    // Consistent with expires_in: the same instant, ISO-8601 with milliseconds (notes 10).
    write_iso8601_ms(&mut b, now + expires_in * 1000);
    b.push('"');
    // Scope is always echoed (notes ambiguity 9), even when it equals the request.
    if let Some(scope) = scope {
        b.push_str(",\"scope\":\"");
        scope.write_to(&s.reg, &mut b);
        b.push('"');
    }
    if let Some(r) = refresh {
        b.push_str(",\"refresh_token\":\"");
        b.push_str(r);
        b.push('"');
    }
    if let Some(t) = auth_time {
        b.push_str(",\"auth_time\":");
        push_padded(&mut b, t, 1);
    }
    if exchanged {
        // RFC 8693 2.2.1 issued_token_type (notes ambiguity 11).
        b.push_str(",\"issued_token_type\":\"");
        b.push_str(TOKEN_TYPE_ACCESS);
        b.push('"');
    }
    b.push('}');
    // Built directly: a String's into_response sets a text/plain type only to replace it.
    let mut r = Response::new(axum::body::Body::from(b));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // RFC 6749 5.1: "Cache-Control: no-store" and "Pragma: no-cache".
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

/// What a code redemption or a refresh issues, and to whom, field by field.
struct Issue<'a> {
    /// The token family the new tokens join.
    family: u64,
    client: u32,
    user: u32,
    /// The scope of the whole grant: it decides whether a refresh token is issued and, for
    /// a new family, is recorded as the bound of its later refreshes.
    grant_scope: ScopeSet,
    /// The scope of the new access token: the grant's, or a refresh's narrower request.
    access_scope: ScopeSet,
    auth_time: u64,
    /// A refresh token that stays current instead of being rotated (variant
    /// `refresh-kept-confidential`).
    kept: Option<&'a str>,
}

/// Issues an access token, plus a refresh token when offline_access is granted (notes
/// section 2: never implicit), as a member of the family `i.family` names.
fn issue_family(
    s: &AppState,
    fams: &mut HashMap<u64, Family>,
    i: &Issue<'_>,
    now: u64,
) -> Result<Response, ApiError> {
    let Issue {
        family: fid,
        client,
        user,
        grant_scope,
        access_scope,
        auth_time,
        kept,
    } = *i;
    if !s.store.reserve(client, user, token_cap(s, client)) {
        return Err(ApiError::too_many_tokens());
    }
    let ttl = s.reg.access_ttl;
    let (access, ah) = new_token();
    let access_exp = now + ttl * 1000;
    s.store.access.insert(
        ah,
        AccessRecord {
            expires_ms: access_exp,
            scope: access_scope,
            family: fid,
            client,
            user,
            kind: AccessKind::Regular,
        },
    );
    let granted_offline = s
        .reg
        .offline_access
        .is_some_and(|b| grant_scope.contains(b));
    // RFC 6749 1.5: "Issuing a refresh token is optional at the discretion of the
    // authorization server"; the variants take that discretion differently.
    let public = !s.reg.clients[client as usize].is_confidential();
    let offline = (granted_offline || s.varies(Variant::RefreshWithoutOfflineAccess))
        && !(public && s.varies(Variant::RefreshNoneForPublic));
    let fam = fams.entry(fid).or_insert_with(|| Family {
        user,
        scope: grant_scope,
        auth_time,
        current_refresh: None,
        access: Vec::new(),
        refresh: Vec::new(),
        revoked: false,
        expires_ms: 0,
    });
    fam.access.push(ah);
    fam.expires_ms = fam.expires_ms.max(access_exp);
    let refresh = if let Some(r) = kept {
        Some(r.to_owned())
    } else if offline {
        let (r, rh) = new_token();
        let exp = if fault!(s, RefreshNeverExpires) {
            u64::MAX / 2
        } else {
            now + s.reg.refresh_ttl * 1000
        };
        s.store.refresh.insert(
            rh,
            RefreshRecord {
                expires_ms: exp,
                family: fid,
                client,
            },
        );
        fam.current_refresh = Some(rh);
        fam.refresh.push(rh);
        fam.expires_ms = fam.expires_ms.max(exp);
        Some(r)
    } else {
        None
    };
    Ok(token_response(
        s,
        &Answer {
            access: &access,
            expires_in: ttl,
            now,
            scope: Some(access_scope),
            refresh: refresh.as_deref(),
            auth_time: Some(auth_time),
            exchanged: false,
        },
    ))
}
