//! POST /oauth/token (five grants) and POST /oauth/revoke (RFC 7009).

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::app::{
    authenticate, normalize_host, now_ms, presented, read_body, AppState, Credentials, Presented,
    Shared,
};
use crate::errors::ApiError;
use crate::fixture::Client;
use crate::parse::{self, Params};
use crate::ratelimit::Tier;
use crate::scope::{ScopeError, ScopeSet};
use crate::store::{
    hash_token, lock, new_token, AccessKind, AccessRecord, Family, RefreshRecord, NO_USER,
};
use crate::variants::Variant;

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
    let result = match grant {
        crate::fixture::GRANT_CLIENT_CREDENTIALS => client_credentials(s, &p, pres, headers, now),
        GRANT_CODE => authorization_code(s, &p, pres, headers, now),
        GRANT_REFRESH => refresh(s, &p, pres, headers, now),
        GRANT_EXCHANGE => exchange(s, &p, pres, headers, now),
        crate::fixture::GRANT_IMPERSONATION => impersonation(s, &p, pres, headers, now),
        _ => Err(ApiError::unsupported_grant_type()),
    };
    result.map_err(|e| crate::varied::refusal_status(s, e))
}

/// Finds and authenticates the client a request names; unknown clients and failed
/// authentication are 401 invalid_client (RFC 6749 5.2).
fn known_client<'s>(
    s: &'s AppState,
    pres: &Presented<'_>,
    require: bool,
    headers: &HeaderMap,
    now: u64,
) -> Result<(u32, &'s Client, bool), ApiError> {
    let id = pres.client_id.as_deref().ok_or_else(|| {
        ApiError::invalid_client("client_id is required").with_basic_challenge(pres.via_basic())
    })?;
    let (idx, client) = s.reg.client(id).ok_or_else(|| {
        ApiError::invalid_client("unknown client").with_basic_challenge(pres.via_basic())
    })?;
    let authed = authenticate(s, idx, client, pres, require, headers, now)?;
    Ok((idx, client, authed))
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
        Err(e) if s.varies(Variant::ScopeNarrowing) => {
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

/// RFC 6749 4.4. Only web clients with the grant; no refresh token (4.4.3) and therefore
/// no offline_access in the granted scope (notes ambiguity 8).
fn client_credentials(
    s: &AppState,
    p: &Params<'_>,
    pres: &Presented<'_>,
    headers: &HeaderMap,
    now: u64,
) -> Result<Response, ApiError> {
    let public_ok = fault!(s, PublicClientCredentials);
    if matches!(pres.creds, Credentials::None) && !public_ok {
        // RFC 6749 4.4.2: "The client MUST authenticate with the authorization server".
        return Err(ApiError::invalid_client(
            "client_credentials needs client authentication (RFC 6749 4.4.2)",
        ));
    }
    let (idx, client, _) = known_client(s, pres, true, headers, now)?;
    let public_exempt = public_ok && !client.is_confidential();
    if !client.client_credentials && !public_exempt {
        return Err(ApiError::unauthorized_client(
            "this client may not use client_credentials",
        ));
    }
    let mut scope = requested_scope(s, p.scope.as_deref(), client.allowed_scopes)?;
    scope.remove(s.reg.offline_access);
    issue_plain(s, idx, NO_USER, scope, now)
}

/// Issues a standalone access token (client_credentials, impersonation).
fn issue_plain(
    s: &AppState,
    client: u32,
    user: u32,
    scope: ScopeSet,
    now: u64,
) -> Result<Response, ApiError> {
    if !s.store.reserve(client, user, s.reg.max_tokens) {
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
        s, &access, ttl, now, scope, None, None, false,
    ))
}

/// Writes a token response by hand: every value is base64url, a number, a date or a
/// fixture scope (RFC 6749 3.3 characters), so nothing needs JSON escaping.
#[allow(clippy::too_many_arguments)]
fn token_response(
    s: &AppState,
    access: &str,
    expires_in: u64,
    now: u64,
    scope: ScopeSet,
    refresh: Option<&str>,
    auth_time: Option<u64>,
    exchanged: bool,
) -> Response {
    let mut b = String::with_capacity(320);
    b.push_str("{\"access_token\":\"");
    b.push_str(access);
    // RFC 6749 5.1 token_type; the spec's enum spells it "bearer" (notes ambiguity 10).
    b.push_str("\",\"token_type\":\"bearer\",\"expires_in\":");
    push_padded(&mut b, expires_in, 1);
    b.push_str(",\"expires_at\":\"");
    // Consistent with expires_in: the same instant, ISO-8601 with milliseconds (notes 10).
    write_iso8601_ms(&mut b, now + expires_in * 1000);
    // Scope is always echoed (notes ambiguity 9), even when it equals the request.
    b.push_str("\",\"scope\":\"");
    scope.write_to(&s.reg, &mut b);
    b.push('"');
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

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for a Unix time in milliseconds, without allocating.
pub(crate) fn write_iso8601_ms(out: &mut String, ms: u64) {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let sod = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // Digit by digit: `write!` with padding cost a tenth of a token response's CPU time.
    push_padded(out, y.max(0) as u64, 4);
    out.push('-');
    push_padded(out, m as u64, 2);
    out.push('-');
    push_padded(out, d as u64, 2);
    out.push('T');
    push_padded(out, sod / 3600, 2);
    out.push(':');
    push_padded(out, (sod / 60) % 60, 2);
    out.push(':');
    push_padded(out, sod % 60, 2);
    out.push('.');
    push_padded(out, ms % 1000, 3);
    out.push('Z');
}

/// Appends `v` in decimal, zero-padded to at least `width` digits.
/// Widths above 20 (the digits of `u64::MAX`) pad to 20.
pub(crate) fn push_padded(out: &mut String, mut v: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let start = i.min(buf.len() - width.min(buf.len()));
    out.extend(buf[start..].iter().map(|&b| char::from(b)));
}

/// RFC 7636 4.1 code_verifier syntax: 43 to 128 unreserved characters.
fn valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// RFC 6749 4.1.3 with PKCE (RFC 7636 4.6). The code is single use: a replay fails and
/// revokes everything the code issued (RFC 6749 4.1.2, RFC 9700 4.2.4). Bad, expired or
/// replayed codes are 401 OAUTH-5 (spec, notes ambiguity 3).
fn authorization_code(
    s: &AppState,
    p: &Params<'_>,
    pres: &Presented<'_>,
    headers: &HeaderMap,
    now: u64,
) -> Result<Response, ApiError> {
    let code = p.code.as_deref().ok_or_else(|| {
        if s.varies(Variant::MissingGrant401) {
            ApiError::invalid_grant("code is required")
        } else {
            ApiError::invalid_request("code is required")
        }
    })?;
    let redirect_uri = p
        .redirect_uri
        .as_deref()
        .ok_or_else(|| ApiError::invalid_request("redirect_uri is required (RFC 6749 4.1.3)"))?;
    let verifier = p.code_verifier.as_deref();
    let verifier_required =
        || ApiError::invalid_request("code_verifier is required (RFC 7636 4.5)");
    if verifier.is_none() && !s.varies(Variant::ChallengeOptional) {
        return Err(verifier_required());
    }
    if verifier.is_some_and(|v| !valid_verifier(v)) {
        return Err(ApiError::invalid_request(
            "code_verifier must be 43 to 128 unreserved characters (RFC 7636 4.1)",
        ));
    }
    // RFC 6749 4.1.3: confidential clients authenticate; public ones send client_id.
    if fault!(s, AssertionOnlyForClientCredentials)
        && matches!(pres.creds, Credentials::Assertion(_))
    {
        return Err(ApiError::invalid_client("client authentication failed"));
    }
    let require = !fault!(s, ConfidentialWithoutSecret);
    let (idx, _client, _) = known_client(s, pres, require, headers, now)?;
    #[cfg(feature = "faults")]
    let raced = fault!(s, CodeRedemptionRace) && headers.contains_key(crate::injection::RACE_MARK);
    #[cfg(not(feature = "faults"))]
    let raced = false;
    let challenge = verifier
        .map(|v| URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes())))
        .unwrap_or_default();
    let h = hash_token(code);

    enum Outcome {
        Missing,
        WrongClient,
        Replayed(u64),
        WrongRedirect,
        WrongVerifier,
        VerifierMissing,
        Ok(crate::store::CodeRecord, u64),
    }
    let mut fams = lock(&s.store.families);
    let outcome = s
        .store
        .codes
        .update(&h, |rec| {
            if rec.expires_ms <= now {
                return Outcome::Missing;
            }
            if rec.client != idx && !fault!(s, CodeNotBoundToClient) {
                return Outcome::WrongClient;
            }
            if let Some(f) = rec.redeemed {
                if !fault!(s, CodeReusable) && !raced {
                    return Outcome::Replayed(f);
                }
            }
            if *rec.redirect_uri != *redirect_uri && !fault!(s, RedirectUriNotChecked) {
                return Outcome::WrongRedirect;
            }
            // Without a challenge (variant `challenge-optional`), a verifier is a downgrade
            // attempt: RFC 9700 2.1.1 accepts one only if a code_challenge was sent.
            if !rec.challenge.is_empty() && verifier.is_none() {
                return Outcome::VerifierMissing;
            }
            if !bool::from(subtle::ConstantTimeEq::ct_eq(
                rec.challenge.as_bytes(),
                challenge.as_bytes(),
            )) && !fault!(s, PkceNotEnforced)
            {
                // A wrong verifier burns the code: PKCE guesses get one try.
                rec.redeemed = Some(0);
                return Outcome::WrongVerifier;
            }
            let fid = s.store.new_family_id();
            rec.redeemed = Some(fid);
            let issued = rec.clone();
            // Remember the redemption as long as its tokens can live, so a late replay
            // still revokes them (RFC 6749 4.1.2); the binding data is no longer needed.
            let offline = s.reg.offline_access.is_some_and(|b| rec.scope.contains(b));
            let ttl = if offline {
                s.reg.refresh_ttl
            } else {
                s.reg.access_ttl
            };
            rec.expires_ms = rec.expires_ms.max(now + ttl * 1000);
            if !raced && !fault!(s, CodeReusable) {
                rec.redirect_uri = Box::from("");
                rec.challenge = Box::from("");
            }
            Outcome::Ok(issued, fid)
        })
        .unwrap_or(Outcome::Missing);
    let (rec, fid) = match outcome {
        Outcome::Missing => return Err(ApiError::invalid_grant("the code is invalid or expired")),
        Outcome::WrongClient => {
            return Err(ApiError::invalid_grant(
                "the code was issued to another client",
            ))
        }
        Outcome::Replayed(f) => {
            if !fault!(s, CodeReplayKeepsTokens) {
                s.store.revoke_family(&mut fams, f);
            }
            return Err(ApiError::invalid_grant(
                "the code was already used; tokens issued from it are revoked (RFC 6749 4.1.2)",
            ));
        }
        Outcome::WrongRedirect => {
            return Err(ApiError::invalid_grant(
                "redirect_uri differs from the authorization request (RFC 6749 4.1.3)",
            ))
        }
        Outcome::WrongVerifier => {
            return Err(ApiError::invalid_grant(
                "code_verifier does not match the code_challenge (RFC 7636 4.6)",
            ))
        }
        Outcome::VerifierMissing => return Err(verifier_required()),
        Outcome::Ok(rec, fid) => (rec, fid),
    };
    if !s.reg.users[rec.user as usize].active {
        return Err(ApiError::user_disabled());
    }
    issue_family(
        s,
        &mut fams,
        fid,
        rec.client,
        rec.user,
        rec.scope,
        rec.scope,
        rec.auth_time,
        now,
        None,
    )
}

/// Issues an access token, plus a refresh token when offline_access is granted (notes
/// section 2: never implicit), as a member of family `fid`. `kept` is a refresh token that
/// stays current instead of being rotated (variant `refresh-kept-confidential`).
#[allow(clippy::too_many_arguments)]
fn issue_family(
    s: &AppState,
    fams: &mut std::collections::HashMap<u64, Family>,
    fid: u64,
    client: u32,
    user: u32,
    grant_scope: ScopeSet,
    access_scope: ScopeSet,
    auth_time: u64,
    now: u64,
    kept: Option<&str>,
) -> Result<Response, ApiError> {
    if !s.store.reserve(client, user, s.reg.max_tokens) {
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
        let exp = now + s.reg.refresh_ttl * 1000;
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
        &access,
        ttl,
        now,
        access_scope,
        refresh.as_deref(),
        Some(auth_time),
        false,
    ))
}

/// RFC 6749 6 with rotation and reuse detection (RFC 9700 4.14.2, notes ambiguity 8): each
/// refresh returns a new refresh token; presenting an already rotated one revokes the
/// whole family. The client is the token's (notes ambiguity 2).
fn refresh(
    s: &AppState,
    p: &Params<'_>,
    pres: &Presented<'_>,
    headers: &HeaderMap,
    now: u64,
) -> Result<Response, ApiError> {
    let token = p.refresh_token.as_deref().ok_or_else(|| {
        if s.varies(Variant::MissingGrant401) {
            ApiError::invalid_grant("refresh_token is required (RFC 6749 6)")
        } else {
            ApiError::invalid_request("refresh_token is required (RFC 6749 6)")
        }
    })?;
    let h = hash_token(token);
    let rec = s
        .store
        .refresh
        .get(&h, |r| *r)
        .filter(|r| r.expires_ms > now)
        .ok_or_else(|| ApiError::invalid_grant("the refresh token is invalid or expired"))?;
    let client = &s.reg.clients[rec.client as usize];
    if let Some(id) = pres.client_id.as_deref() {
        if id != &*client.id && fault!(s, RefreshClientNotBound) {
            // The presenting client is authenticated instead of the token's.
            known_client(s, pres, true, headers, now)?;
        } else if id != &*client.id {
            if s.reg.client(id).is_none() {
                return Err(ApiError::invalid_client("unknown client")
                    .with_basic_challenge(pres.via_basic()));
            }
            return Err(ApiError::invalid_grant(
                "the refresh token was issued to another client (RFC 6749 6)",
            ));
        }
    }
    if pres.client_id.as_deref().is_none_or(|id| id == &*client.id) {
        authenticate(s, rec.client, client, pres, true, headers, now)?;
    }

    let mut fams = lock(&s.store.families);
    let fam = match fams.get(&rec.family) {
        Some(f) if !f.revoked => f,
        _ => return Err(ApiError::invalid_grant("the refresh token was revoked")),
    };
    if fam.current_refresh != Some(h) && !fault!(s, RefreshReusable) {
        if fault!(s, RefreshReuseKeepsFamily) || s.varies(Variant::RotationWithoutFamilyRevocation)
        {
            return Err(ApiError::invalid_grant(
                "the refresh token was already used",
            ));
        }
        s.store.revoke_family(&mut fams, rec.family);
        return Err(ApiError::invalid_grant(
            "the refresh token was already used; its token family is revoked (RFC 9700 4.14.2)",
        ));
    }
    let access_scope = if fault!(s, RefreshScopeEscalation) {
        ScopeSet::request(&s.reg, p.scope.as_deref(), client.allowed_scopes)
    } else {
        match ScopeSet::narrow(&s.reg, p.scope.as_deref(), fam.scope) {
            Err(e) if s.varies(Variant::ScopeNarrowing) => {
                ScopeSet::allowed_part(&s.reg, p.scope.as_deref(), fam.scope).ok_or(e)
            }
            r => r,
        }
    }
    .map_err(scope_error)?;
    let (user, grant_scope, auth_time) = (fam.user, fam.scope, fam.auth_time);
    if !s.reg.users[user as usize].active {
        return Err(ApiError::user_disabled());
    }
    // The old token stays recorded (until it expires) so its reuse is recognised;
    // issue_family makes the new one current, unless a confidential client keeps its token
    // (RFC 6749 6: a new refresh token is a MAY; RFC 9700 4.14.2 asks rotation of public
    // clients only).
    let kept =
        (client.is_confidential() && s.varies(Variant::RefreshKeptConfidential)).then_some(token);
    issue_family(
        s,
        &mut fams,
        rec.family,
        rec.client,
        user,
        grant_scope,
        access_scope,
        auth_time,
        now,
        kept,
    )
}

/// Token exchange (RFC 8693, notes ambiguity 11): no client authentication needed (the
/// [API] browser client sends none), `client_id` must be the subject token's client,
/// 200 with issued_token_type; bad type or purpose 400, bad subject 401 OAUTH-5.
fn exchange(
    s: &AppState,
    p: &Params<'_>,
    pres: &Presented<'_>,
    headers: &HeaderMap,
    now: u64,
) -> Result<Response, ApiError> {
    let subject = p
        .subject_token
        .as_deref()
        .ok_or_else(|| ApiError::invalid_request("subject_token is required (RFC 8693 2.1)"))?;
    match p.subject_token_type.as_deref() {
        Some(TOKEN_TYPE_ACCESS) => {}
        Some(_) => {
            return Err(ApiError::invalid_request(
                "subject_token_type must be urn:ietf:params:oauth:token-type:access_token",
            ))
        }
        None => {
            return Err(ApiError::invalid_request(
                "subject_token_type is required (RFC 8693 2.1)",
            ))
        }
    }
    match p.purpose.as_deref() {
        Some("websocket" | "webresource") => {}
        Some(_) => {
            return Err(ApiError::invalid_request(
                "purpose must be websocket or webresource",
            ))
        }
        None => return Err(ApiError::invalid_request("purpose is required")),
    }
    if pres.client_id.is_none() {
        return Err(ApiError::invalid_request("client_id is required"));
    }
    let (idx, client, _) = known_client(s, pres, false, headers, now)?;
    let cannot = || {
        // The message the real service gives (community.qlik.com 2076243, notes section 2).
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "OAUTH-5",
            "Unauthorized",
            "invalid_grant",
            "Cannot perform exchange with given Oauth configuration.",
        )
    };
    if !client.token_exchange {
        return Err(cannot());
    }
    let h = hash_token(subject);
    let rec = s
        .store
        .access
        .get(&h, |r| *r)
        .filter(|r| r.expires_ms > now)
        .ok_or_else(|| ApiError::invalid_grant("the subject token is invalid or expired"))?;
    if rec.client != idx && !s.varies(Variant::ExchangeAnyClient) {
        return Err(ApiError::invalid_grant(
            "the subject token was issued to another client",
        ));
    }
    // An M2M token has no user to act for (observed 401, notes section 2), unless the
    // tenant lets its bot user act (variant `exchange-machine-tokens`); an exchanged token
    // is not exchanged again.
    let machine = rec.user == NO_USER;
    if (machine && !s.varies(Variant::ExchangeMachineTokens)) || rec.kind == AccessKind::Exchanged {
        return Err(cannot());
    }
    if !machine && !s.reg.users[rec.user as usize].active {
        return Err(ApiError::user_disabled());
    }
    let mut scope = rec.scope;
    scope.remove(s.reg.offline_access);
    let exp = (now + s.reg.access_ttl * 1000).min(rec.expires_ms);
    let mut fams = lock(&s.store.families);
    if rec.family != 0 && fams.get(&rec.family).is_none_or(|f| f.revoked) {
        return Err(ApiError::invalid_grant("the subject token was revoked"));
    }
    // The subject may have been revoked between the lookup and the lock.
    if s.store.access.get(&h, |_| ()).is_none() {
        return Err(ApiError::invalid_grant("the subject token was revoked"));
    }
    if !s.store.reserve(idx, rec.user, s.reg.max_tokens) {
        return Err(ApiError::too_many_tokens());
    }
    let (access, ah) = new_token();
    s.store.access.insert(
        ah,
        AccessRecord {
            expires_ms: exp,
            scope,
            family: rec.family,
            client: idx,
            user: rec.user,
            kind: AccessKind::Exchanged,
        },
    );
    if let Some(f) = fams.get_mut(&rec.family) {
        f.access.push(ah);
    }
    drop(fams);
    let expires_in = (exp.saturating_sub(now)) / 1000;
    // expires_at is computed from expires_in so the two agree to the second.
    Ok(token_response(
        s, &access, expires_in, now, scope, None, None, true,
    ))
}

/// `urn:qlik:oauth:user-impersonation` (notes ambiguity 12): an authenticated web client
/// with the grant (else 401 OAUTH-14), a user found by subject or userId (unknown 400,
/// disabled 403), no refresh token.
fn impersonation(
    s: &AppState,
    p: &Params<'_>,
    pres: &Presented<'_>,
    headers: &HeaderMap,
    now: u64,
) -> Result<Response, ApiError> {
    if matches!(pres.creds, Credentials::None) {
        return Err(ApiError::invalid_client(
            "impersonation needs client authentication",
        ));
    }
    let (idx, client, _) = known_client(s, pres, true, headers, now)?;
    if !client.impersonation && !fault!(s, ImpersonationWithoutGrant) {
        return Err(ApiError::unauthorized_client(
            "this client may not impersonate users",
        ));
    }
    if !p.user_lookup_present {
        return Err(ApiError::invalid_request("user_lookup is required"));
    }
    let value = p
        .user_lookup_value
        .as_deref()
        .ok_or_else(|| ApiError::invalid_request("user_lookup.value is required"))?;
    let field = match p.user_lookup_field.as_deref() {
        None if fault!(s, LookupFieldDefaulted) => Some("subject"),
        f => f,
    };
    let user = match field {
        Some("subject") => s.reg.users.iter().position(|u| &*u.subject == value),
        Some("userId") => s.reg.users.iter().position(|u| &*u.id == value),
        _ => {
            return Err(ApiError::invalid_request(
                "user_lookup.field must be subject or userId",
            ))
        }
    };
    let user = user.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "OAUTH-15",
            "Invalid request",
            "invalid_request",
            "no user matches user_lookup",
        )
    })? as u32;
    if !s.reg.users[user as usize].active && !fault!(s, DisabledUserAllowed) {
        return Err(ApiError::user_disabled());
    }
    let mut scope = requested_scope(s, p.scope.as_deref(), client.allowed_scopes)?;
    scope.remove(s.reg.offline_access);
    issue_plain(s, idx, user, scope, now)
}

/// POST /oauth/revoke (RFC 7009, notes ambiguity 13): unauthenticated calls and a Bearer
/// header are accepted, client credentials are checked when given, unknown tokens get 200,
/// the hint is only a hint, and revoking a refresh token revokes its whole grant.
pub(crate) async fn revoke(State(s): State<Shared>, req: Request) -> Response {
    post_endpoint(s, req, parse::revoke_request, revoke_inner, false).await
}

fn revoke_inner(
    s: &AppState,
    p: Params<'_>,
    pres: &Presented<'_>,
    headers: &HeaderMap,
    now: u64,
) -> Result<Response, ApiError> {
    let caller = match pres.client_id.as_deref() {
        // Variant `revoke-ignores-client`: the spec's revoke body has no client fields.
        _ if s.varies(Variant::RevokeIgnoresClient) => None,
        None => None,
        Some(_) => {
            let (idx, _, _) = known_client(s, pres, false, headers, now)?;
            Some(idx)
        }
    };
    let token = p.token.as_deref().unwrap_or_default();
    let h = hash_token(token);
    let not_yours = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "OAUTH-16",
            "Invalid request",
            "unauthorized_client",
            "the token was not issued to this client (RFC 7009 2.1)",
        )
    };
    let refresh_first = p.token_type_hint.as_deref() == Some("refresh_token");
    let hinted = p.token_type_hint.is_some();
    let mut found = false;
    for pass in 0..2 {
        if fault!(s, RevocationNoop) || (pass == 1 && hinted && fault!(s, RevokeHintTrusted)) {
            break;
        }
        if (pass == 0) == refresh_first {
            if let Some(r) = s.store.refresh.get(&h, |r| *r) {
                if caller.is_some_and(|c| c != r.client) {
                    return Err(not_yours());
                }
                if !fault!(s, RevokeRefreshKeepsAccess)
                    && !s.varies(Variant::AccessSurvivesRefreshRevocation)
                {
                    let mut fams = lock(&s.store.families);
                    s.store.revoke_family(&mut fams, r.family);
                }
                s.store.refresh.remove(&h);
                found = true;
                break;
            }
        } else if let Some(a) = s.store.access.get(&h, |r| *r) {
            if caller.is_some_and(|c| c != a.client) {
                return Err(not_yours());
            }
            if !s.varies(Variant::AccessRevocationUnsupported) {
                s.store.remove_access(&h);
            }
            found = true;
            break;
        }
    }
    if !found && fault!(s, RevokeUnknown400) {
        return Err(ApiError::invalid_request("the token is unknown"));
    }
    let mut r = (StatusCode::OK, "{}").into_response();
    let hd = r.headers_mut();
    hd.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    hd.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601() {
        let mut s = String::new();
        write_iso8601_ms(&mut s, 1_722_433_431_000);
        assert_eq!(s, "2024-07-31T13:43:51.000Z");
        s.clear();
        write_iso8601_ms(&mut s, 951_782_400_123);
        assert_eq!(s, "2000-02-29T00:00:00.123Z");
    }

    #[test]
    fn iso8601_agrees_with_the_time_crate() {
        // Every day boundary, leap day and millisecond pattern across four centuries, by a
        // stride prime to every field's period.
        let mut ms = 0u64;
        while ms < 13_000_000_000_000 {
            let mut ours = String::new();
            write_iso8601_ms(&mut ours, ms);
            let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
                .unwrap();
            let theirs = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                t.millisecond()
            );
            assert_eq!(ours, theirs, "at {ms} ms");
            ms += 999_999_937;
        }
    }

    #[test]
    fn padded_decimal() {
        for (v, w, want) in [
            (0, 1, "0"),
            (7, 2, "07"),
            (21600, 1, "21600"),
            (5, 3, "005"),
            (12345, 2, "12345"),
            (u64::MAX, 1, "18446744073709551615"),
            (u64::MAX, 25, "18446744073709551615"),
        ] {
            let mut s = String::new();
            push_padded(&mut s, v, w);
            assert_eq!(s, want, "{v} width {w}");
        }
    }
}
