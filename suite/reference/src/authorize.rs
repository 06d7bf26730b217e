//! GET /oauth/authorize and the built-in test identity provider behind it: a login page,
//! automatic sign-in by `login_hint`, a session cookie, a consent page, and `prompt` /
//! `max_age` as OpenID Connect Core 3.1.2.1 defines them.
//!
//! The pending request is never stored: the login and consent forms carry the original
//! query and re-validate it on submit, so unauthenticated traffic costs no memory.

use std::borrow::Cow;
use std::fmt::Write as _;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::app::{now_ms, read_body, AppState, Shared};
use crate::errors::ApiError;
use crate::parse::{self, AuthorizeQuery, BodyKind};
use crate::ratelimit::Tier;
use crate::scope::{ScopeError, ScopeSet};
use crate::store::{hash_token, new_token, CodeRecord, Hash, Session};

pub(crate) const LOGIN_PATH: &str = "/oauth/login";
pub(crate) const CONSENT_PATH: &str = "/oauth/consent";
const SESSION_COOKIE: &str = "qoauth_session";

/// A validated authorization request.
struct AuthRequest {
    client: u32,
    redirect_uri: String,
    state: String,
    scope: ScopeSet,
    challenge: String,
    login_hint: Option<String>,
    max_age: Option<u64>,
    prompt_none: bool,
    prompt_login: bool,
    prompt_consent: bool,
}

/// An authorize failure: either a 400 envelope (client or redirect_uri cannot be
/// trusted, RFC 6749 4.1.2.1) or an error redirect to the registered URI.
enum Failure {
    Page(ApiError),
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        code: &'static str,
        detail: Cow<'static, str>,
    },
}

impl Failure {
    fn into_response(self) -> Response {
        match self {
            Failure::Page(e) => e.into_response(),
            Failure::Redirect {
                redirect_uri,
                state,
                error,
                code,
                detail,
            } => {
                // RFC 6749 4.1.2.1 plus the spec's error_code and error_detail.
                let mut q = form_urlencoded::Serializer::new(String::new());
                q.append_pair("error", error);
                q.append_pair("error_description", &detail);
                q.append_pair("error_code", code);
                q.append_pair("error_detail", &detail);
                if let Some(s) = &state {
                    q.append_pair("state", s);
                }
                redirect(&append_query(&redirect_uri, &q.finish()), None)
            }
        }
    }
}

fn append_query(uri: &str, query: &str) -> String {
    // The registered URI may carry its own query, which must be kept (RFC 6749 3.1.2).
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{query}")
}

fn redirect(location: &str, cookie: Option<String>) -> Response {
    let mut r = StatusCode::FOUND.into_response();
    let h = r.headers_mut();
    match HeaderValue::from_str(location) {
        Ok(v) => {
            h.insert(header::LOCATION, v);
        }
        Err(_) => {
            return ApiError::invalid_request("the redirect target is not a valid header value")
                .into_response()
        }
    }
    // Responses carrying codes must not be cached (RFC 6749 10.12 spirit, RFC 9700 4.2.4).
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert(header::SET_COOKIE, c);
    }
    r
}

fn page_error(
    code: &'static str,
    title: &'static str,
    error: &'static str,
    detail: &'static str,
) -> Failure {
    Failure::Page(ApiError::new(
        StatusCode::BAD_REQUEST,
        code,
        title,
        error,
        detail,
    ))
}

/// Validates an authorize query in the order RFC 6749 4.1.2.1 requires: first what makes
/// a redirect safe (client and exact redirect_uri), then everything else as redirects.
fn validate(s: &AppState, raw: &str) -> Result<AuthRequest, Failure> {
    let raw = crate::varied::query(s, raw);
    let q: AuthorizeQuery = match parse::authorize_query(&raw) {
        Ok(q) => q,
        Err(e) => {
            // A repeated or undecodable parameter: redirect only if client and redirect_uri
            // were unambiguous and check out.
            let target = e
                .client_id
                .as_deref()
                .zip(e.redirect_uri.as_deref())
                .and_then(|(c, r)| {
                    let (_, client) = s.reg.client(c)?;
                    parse::redirect_uri_matches(&client.redirect_uris, r).then(|| r.to_owned())
                });
            return Err(match target {
                Some(redirect_uri) => Failure::Redirect {
                    redirect_uri,
                    state: e.state,
                    error: "invalid_request",
                    code: "OAUTH-3",
                    detail: e.detail.into(),
                },
                None => Failure::Page(ApiError::invalid_request(e.detail)),
            });
        }
    };
    let Some(client_id) = q.client_id.as_deref() else {
        return Err(page_error(
            "OAUTH-2",
            "Invalid client_id",
            "invalid_request",
            "client_id is required",
        ));
    };
    let Some((idx, client)) = s.reg.client(client_id) else {
        if let Some(redirect_uri) = q
            .redirect_uri
            .clone()
            .filter(|_| fault!(s, UnknownClientRedirect))
        {
            return Err(Failure::Redirect {
                redirect_uri,
                state: q.state.clone(),
                error: "unauthorized_client",
                code: "OAUTH-2",
                detail: "client_id is not a registered client".into(),
            });
        }
        return Err(page_error(
            "OAUTH-2",
            "Invalid client_id",
            "invalid_client",
            "client_id is not a registered client",
        ));
    };
    let Some(redirect_uri) = q.redirect_uri.clone() else {
        return Err(page_error(
            "OAUTH-1",
            "redirect_uri is not registered",
            "invalid_request",
            "redirect_uri is required",
        ));
    };
    let registered = parse::redirect_uri_matches(&client.redirect_uris, &redirect_uri)
        || fault!(s, OpenRedirect)
        || (fault!(s, RedirectPrefixMatch)
            && client
                .redirect_uris
                .iter()
                .any(|r| redirect_uri.starts_with(&**r)));
    if !registered {
        // Observed code and title (notes section 2); exact match (RFC 9700 4.1.3).
        return Err(page_error(
            "OAUTH-1",
            "redirect_uri is not registered",
            "invalid_request",
            "redirect_uri does not exactly match a registered URI",
        ));
    }
    let fail = |error: &'static str, code: &'static str, detail: &'static str| Failure::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: q.state.clone(),
        error,
        code,
        detail: detail.into(),
    };
    match q.response_type.as_deref() {
        Some("code") => {}
        None => {
            return Err(fail(
                "invalid_request",
                "OAUTH-3",
                "response_type is required",
            ))
        }
        Some(_) => {
            return Err(fail(
                "unsupported_response_type",
                "OAUTH-12",
                "only response_type=code is supported",
            ))
        }
    }
    let Some(state) = q.state.clone() else {
        // The spec marks state required (RFC 6749 only recommends it).
        return Err(fail("invalid_request", "OAUTH-3", "state is required"));
    };
    // PKCE with S256 always (RFC 7636 4.4.1, RFC 9700 2.1.1, notes ambiguity 5).
    let plain = q.code_challenge_method.as_deref() == Some("plain") && fault!(s, PkcePlainAccepted);
    // Variant `challenge-optional`: no PKCE at all is a request RFC 7636 4.4.1 lets a server
    // accept; the token endpoint then refuses a code_verifier (RFC 9700 2.1.1 downgrade).
    let without_pkce = (s.varies(crate::variants::Variant::ChallengeOptional)
        || fault!(s, PkceDowngradeAccepted))
        && q.code_challenge.is_none()
        && q.code_challenge_method.is_none();
    match q.code_challenge_method.as_deref() {
        _ if without_pkce => {}
        Some("S256") => {}
        _ if plain => {}
        None => {
            return Err(fail(
                "invalid_request",
                "OAUTH-3",
                "code_challenge_method is required and must be S256",
            ))
        }
        Some(_) => {
            return Err(fail(
                "invalid_request",
                "OAUTH-3",
                "only code_challenge_method=S256 is supported (RFC 7636 4.4.1)",
            ))
        }
    }
    let challenge =
        match q.code_challenge.as_deref() {
            None if without_pkce => String::new(),
            // A plain challenge is the verifier itself; stored as its S256 form so the
            // token endpoint's comparison accepts that verifier.
            Some(c) if plain => {
                use base64::Engine as _;
                use sha2::Digest as _;
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(sha2::Sha256::digest(c.as_bytes()))
            }
            Some(c)
                if c.len() == 43
                    && c.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                c.to_owned()
            }
            Some(_) => return Err(fail(
                "invalid_request",
                "OAUTH-3",
                "code_challenge must be BASE64URL(SHA256(verifier)), 43 characters (RFC 7636 4.2)",
            )),
            None => {
                return Err(fail(
                    "invalid_request",
                    "OAUTH-3",
                    "code_challenge is required",
                ))
            }
        };
    let scope =
        ScopeSet::request(&s.reg, q.scope.as_deref(), client.allowed_scopes).map_err(|e| {
            fail(
                "invalid_scope",
                "OAUTH-6",
                match e {
                    ScopeError::Unknown => "a requested scope is unknown",
                    ScopeError::NotAllowed => "a requested scope is not allowed for this client",
                },
            )
        })?;
    let (mut none, mut login, mut consent) = (false, false, false);
    if let Some(p) = q.prompt.as_deref() {
        for v in p.split(' ').filter(|v| !v.is_empty()) {
            match v {
                "none" => none = true,
                "login" => login = true,
                "consent" => consent = true,
                _ => {
                    return Err(fail(
                        "invalid_request",
                        "OAUTH-3",
                        "prompt must be none, login or consent",
                    ))
                }
            }
        }
        // OIDC Core 3.1.2.1: none with any other value is an error.
        if none && (login || consent) {
            return Err(fail(
                "invalid_request",
                "OAUTH-3",
                "prompt=none cannot be combined with other values",
            ));
        }
    }
    let max_age = match q.max_age.as_deref() {
        None => None,
        Some(m) => match m.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Some(v as u64),
            _ => {
                return Err(fail(
                    "invalid_request",
                    "OAUTH-3",
                    "max_age must be a non-negative number of seconds",
                ))
            }
        },
    };
    Ok(AuthRequest {
        client: idx,
        redirect_uri,
        state,
        scope,
        challenge,
        login_hint: q.login_hint,
        max_age,
        prompt_none: none,
        prompt_login: login,
        prompt_consent: consent,
    })
}

fn session_cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v)
}

/// The live session of the request, if any (expired ones and disabled users count as none).
fn current_session(s: &AppState, headers: &HeaderMap, now: u64) -> Option<(Hash, Session)> {
    let h = hash_token(session_cookie_value(headers)?);
    let sess = s.store.sessions.get(&h, |x| x.clone())?;
    (sess.expires_ms > now && s.store.user_active(sess.user)).then_some((h, sess))
}

fn new_session(s: &AppState, user: u32, now: u64) -> (Hash, Session, String) {
    let (token, h) = new_token();
    let (csrf, _) = new_token();
    let sess = Session {
        user,
        auth_time: now / 1000,
        expires_ms: now + s.reg.session_ttl * 1000,
        csrf,
        consents: Vec::new(),
    };
    s.store.sessions.insert(h, sess.clone());
    let secure = if s.tls { "; Secure" } else { "" };
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        s.reg.session_ttl
    );
    (h, sess, cookie)
}

/// How far an authorize request got: the user may just have completed the login or the
/// consent form for this very request.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Start,
    LoggedIn,
    Consented,
}

/// Where the flow goes next, given the session (if any) and the step reached.
fn proceed(
    s: &AppState,
    ar: &AuthRequest,
    raw: &str,
    mut session: Option<(Hash, Session)>,
    mut cookie: Option<String>,
    step: Step,
    now: u64,
) -> Response {
    let fail = |error: &'static str, code: &'static str, detail: &'static str| {
        Failure::Redirect {
            redirect_uri: ar.redirect_uri.clone(),
            state: Some(ar.state.clone()),
            error,
            code,
            detail: detail.into(),
        }
        .into_response()
    };
    let hinted = ar.login_hint.as_deref().and_then(|h| s.reg.user_by_hint(h));
    if step == Step::Start {
        let need_login = match &session {
            None => true,
            Some((_, sess)) => {
                // prompt=login forces re-authentication; max_age bounds the age of the last
                // one (OIDC Core 3.1.2.1); a hint naming someone else switches users.
                ar.prompt_login
                    || ar
                        .max_age
                        .is_some_and(|m| (now / 1000).saturating_sub(sess.auth_time) > m)
                    || hinted.is_some_and(|u| u != sess.user)
            }
        };
        if need_login {
            if ar.prompt_none {
                // OIDC Core 3.1.2.6 login_required: no UI may be shown.
                return fail("login_required", "OAUTH-13", "the user is not signed in");
            }
            match hinted {
                Some(u) if s.reg.auto_login_hint => {
                    if !s.store.user_active(u) {
                        return fail("access_denied", "OAUTH-9", "the user is disabled");
                    }
                    let (h, sess, c) = new_session(s, u, now);
                    session = Some((h, sess));
                    cookie = Some(c);
                }
                _ => return redirect(&format!("{LOGIN_PATH}?{raw}"), None),
            }
        }
    }
    let Some((sh, sess)) = session else {
        return redirect(&format!("{LOGIN_PATH}?{raw}"), cookie);
    };
    let client = &s.reg.clients[ar.client as usize];
    if step != Step::Consented {
        let has_consent = sess
            .consents
            .iter()
            .any(|(c, sc)| *c == ar.client && ar.scope.is_subset(*sc));
        let need_consent = ar.prompt_consent || (client.consent_required && !has_consent);
        if need_consent {
            if ar.prompt_none {
                return fail("consent_required", "OAUTH-13", "the user has not consented");
            }
            return redirect(&format!("{CONSENT_PATH}?{raw}"), cookie);
        }
    }
    // RFC 6749 4.1.2: a short-lived, single-use code bound to client, redirect_uri,
    // challenge, scope and user.
    let (code, h) = new_token();
    s.store.codes.insert(
        h,
        CodeRecord {
            expires_ms: if fault!(s, CodeNeverExpires) {
                u64::MAX / 2
            } else {
                now + s.reg.code_ttl * 1000
            },
            client: ar.client,
            user: sess.user,
            scope: ar.scope,
            redirect_uri: ar.redirect_uri.as_str().into(),
            challenge: ar.challenge.as_str().into(),
            auth_time: sess.auth_time,
            redeemed: None,
        },
    );
    let _ = sh;
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("code", &code);
    q.append_pair("state", &ar.state);
    redirect(&append_query(&ar.redirect_uri, &q.finish()), cookie)
}

pub(crate) async fn authorize(State(s): State<Shared>, req: Request) -> Response {
    let now = now_ms();
    s.maybe_purge(now);
    let raw = req.uri().query().unwrap_or("");
    let named = parse::authorize_query(raw)
        .ok()
        .and_then(|q| q.client_id)
        .and_then(|c| s.reg.client(&c).map(|(i, _)| i));
    if let Err(e) = s.rate_check(named, AppState::peer(req.extensions()), Tier::One, now) {
        return e.into_response();
    }
    let ar = match validate(&s, raw) {
        Ok(ar) => ar,
        Err(f) => return f.into_response(),
    };
    let session = current_session(&s, req.headers(), now);
    proceed(&s, &ar, raw, session, None, Step::Start, now)
}

fn html_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn html(s: &AppState, status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if fault!(s, PageFramable) {
        return r;
    }
    // The pages are never framed (clickjacking on consent).
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"),
    );
    r
}

fn login_html(s: &AppState, raw: &str, message: Option<&str>) -> String {
    let mut b = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sign in</title></head><body>\
         <h1>Sign in to the reference tenant</h1>",
    );
    if let Some(m) = message {
        let _ = write!(b, "<p role=\"alert\">{}</p>", html_escape(m));
    }
    let _ = write!(
        b,
        "<form method=\"post\" action=\"{LOGIN_PATH}\">\
         <input type=\"hidden\" name=\"authorize_query\" value=\"{}\">\
         <label>User (email, subject or id) <input name=\"login\" autofocus></label>\
         <button type=\"submit\">Sign in</button></form><p>Test users:</p><ul>",
        html_escape(raw)
    );
    // The fixture's users as the fixture gives them: a status changed through the users API
    // is not shown, so the page is the same whoever is disabled meanwhile (a sign-in still
    // refuses a disabled user).
    for u in &s.reg.users {
        let _ = write!(
            b,
            "<li>{} &lt;{}&gt;{}</li>",
            html_escape(&u.name),
            html_escape(&u.email),
            if u.active { "" } else { " (disabled)" }
        );
    }
    b.push_str("</ul></body></html>");
    b
}

/// GET /oauth/login: the sign-in form for a pending authorize request.
pub(crate) async fn login_page(State(s): State<Shared>, req: Request) -> Response {
    let now = now_ms();
    if let Err(e) = s.rate_check(None, AppState::peer(req.extensions()), Tier::One, now) {
        return e.into_response();
    }
    let raw = req.uri().query().unwrap_or("");
    if let Err(f) = validate(&s, raw) {
        return f.into_response();
    }
    html(&s, StatusCode::OK, login_html(&s, raw, None))
}

/// What the login and consent forms share before their own fields: the rate limit (tier 1),
/// the form body, and the authorize request they resume (`names[0]`, its raw query),
/// validated again because the page carried it through the user's browser. Returns the
/// headers, the fields (the first taken out), the raw query and the validated request.
async fn resumed(
    s: &AppState,
    req: Request,
    now: u64,
    names: &[&'static str],
) -> Result<(HeaderMap, Vec<Option<String>>, String, AuthRequest), Response> {
    s.rate_check(None, AppState::peer(req.extensions()), Tier::One, now)
        .map_err(IntoResponse::into_response)?;
    let (headers, mut fields) = form_fields(s, req, names)
        .await
        .map_err(IntoResponse::into_response)?;
    let Some(raw) = fields[0].take() else {
        return Err(ApiError::invalid_request(format!("{} is required", names[0])).into_response());
    };
    let ar = validate(s, &raw).map_err(|failure| failure.into_response())?;
    Ok((headers, fields, raw, ar))
}

/// Reads a login or consent form body: form-urlencoded only, repeated fields refused.
async fn form_fields(
    s: &AppState,
    req: Request,
    names: &[&'static str],
) -> Result<(HeaderMap, Vec<Option<String>>), ApiError> {
    let (parts, body) = req.into_parts();
    let bytes = read_body(s.reg.max_body_bytes, &parts.headers, body).await?;
    let ct = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if parse::body_kind(ct)? != BodyKind::Form {
        return Err(ApiError::unsupported_media_type());
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| ApiError::invalid_request("the body is not valid UTF-8"))?;
    let mut out: Vec<Option<String>> = vec![None; names.len()];
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = parse::form_decode(k)?;
        if let Some(i) = names.iter().position(|n| *n == k) {
            if out[i].is_some() {
                return Err(ApiError::invalid_request(format!(
                    "field {} is repeated",
                    names[i]
                )));
            }
            out[i] = Some(parse::form_decode(v)?.into_owned());
        }
    }
    Ok((parts.headers, out))
}

/// POST /oauth/login: signs a fixture user in (the test IdP has no passwords) and resumes
/// the authorize request.
pub(crate) async fn login_submit(State(s): State<Shared>, req: Request) -> Response {
    let now = now_ms();
    let (_, fields, raw, ar) = match resumed(&s, req, now, &["authorize_query", "login"]).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    let raw = raw.as_str();
    let login = fields[1].as_deref().unwrap_or("").trim();
    let Some(user) = s.reg.user_by_hint(login) else {
        return html(
            &s,
            StatusCode::UNAUTHORIZED,
            login_html(&s, raw, Some("No such user in this tenant.")),
        );
    };
    if !s.store.user_active(user) {
        return Failure::Redirect {
            redirect_uri: ar.redirect_uri,
            state: Some(ar.state),
            error: "access_denied",
            code: "OAUTH-9",
            detail: "the user is disabled".into(),
        }
        .into_response();
    }
    let (h, sess, cookie) = new_session(&s, user, now);
    proceed(
        &s,
        &ar,
        raw,
        Some((h, sess)),
        Some(cookie),
        Step::LoggedIn,
        now,
    )
}

/// GET /oauth/consent: asks the signed-in user to approve the requested scopes.
pub(crate) async fn consent_page(State(s): State<Shared>, req: Request) -> Response {
    let now = now_ms();
    if let Err(e) = s.rate_check(None, AppState::peer(req.extensions()), Tier::One, now) {
        return e.into_response();
    }
    let raw = req.uri().query().unwrap_or("");
    let ar = match validate(&s, raw) {
        Ok(ar) => ar,
        Err(f) => return f.into_response(),
    };
    let Some((_, sess)) = current_session(&s, req.headers(), now) else {
        return redirect(&format!("{LOGIN_PATH}?{raw}"), None);
    };
    let client = &s.reg.clients[ar.client as usize];
    let user = &s.reg.users[sess.user as usize];
    let mut b = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Consent</title></head><body>",
    );
    let _ = write!(
        b,
        "<h1>Allow {} access?</h1><p>Signed in as {}.</p><ul>",
        html_escape(&client.id),
        html_escape(&user.email)
    );
    for sc in ar
        .scope
        .to_string(&s.reg)
        .split(' ')
        .filter(|x| !x.is_empty())
    {
        let _ = write!(b, "<li>{}</li>", html_escape(sc));
    }
    let _ = write!(
        b,
        "</ul><form method=\"post\" action=\"{CONSENT_PATH}\">\
         <input type=\"hidden\" name=\"authorize_query\" value=\"{}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <button name=\"decision\" value=\"allow\">Allow</button>\
         <button name=\"decision\" value=\"deny\">Deny</button></form></body></html>",
        html_escape(raw),
        html_escape(&sess.csrf)
    );
    html(&s, StatusCode::OK, b)
}

/// POST /oauth/consent: records the decision in the session (bound by its CSRF token)
/// and resumes the authorize request; a refusal is access_denied (RFC 6749 4.1.2.1).
pub(crate) async fn consent_submit(State(s): State<Shared>, req: Request) -> Response {
    let now = now_ms();
    let names = ["authorize_query", "csrf", "decision"];
    let (headers, fields, raw, ar) = match resumed(&s, req, now, &names).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    let raw = raw.as_str();
    let Some((sh, sess)) = current_session(&s, &headers, now) else {
        return redirect(&format!("{LOGIN_PATH}?{raw}"), None);
    };
    let csrf = fields[1].as_deref().unwrap_or("");
    if !bool::from(csrf.as_bytes().ct_eq(sess.csrf.as_bytes())) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "OAUTH-17",
            "Forbidden",
            "access_denied",
            "the consent form does not belong to this session",
        )
        .into_response();
    }
    match fields[2].as_deref() {
        Some("allow") => {}
        Some("deny") => {
            return Failure::Redirect {
                redirect_uri: ar.redirect_uri,
                state: Some(ar.state),
                error: "access_denied",
                code: "OAUTH-13",
                detail: "the user denied consent".into(),
            }
            .into_response()
        }
        _ => return ApiError::invalid_request("decision must be allow or deny").into_response(),
    }
    let updated = s.store.sessions.update(&sh, |x| {
        x.consents.retain(|(c, _)| *c != ar.client);
        x.consents.push((ar.client, ar.scope));
        x.clone()
    });
    let sess = updated.unwrap_or(sess);
    proceed(&s, &ar, raw, Some((sh, sess)), None, Step::Consented, now)
}
