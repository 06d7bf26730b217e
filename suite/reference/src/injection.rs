//! The faults that act on whole requests and responses (headers, envelopes, body shapes,
//! timing), as one middleware around the router. Only compiled with the `faults` feature;
//! the faults that bend a single check live at that check, behind `fault!`.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::errors::ApiError;
use crate::faults::{Fault, Faults};

/// Marks a code redemption that passed the racy "not redeemed yet" check, so the handler
/// skips its own (atomic) one: the check-then-act window of `code-redemption-race`.
pub(crate) const RACE_MARK: &str = "x-qoauth-fault-race";

/// How long `slow-token` stalls; far beyond any client's request timeout.
const SLOW: Duration = Duration::from_secs(20);
/// The window between the racy check and the redemption.
const RACE_WINDOW: Duration = Duration::from_millis(300);
/// Faults that need the token request body.
const BODY_FAULTS: &[Fault] = &[
    Fault::UnknownParamsRejected,
    Fault::DuplicateParamsAccepted,
    Fault::PanicOnJsonArray,
    Fault::ServerErrorOnLongScope,
    Fault::SlowToken,
    Fault::RefreshNotRotated,
    Fault::RefreshForClientCredentials,
    Fault::CodeRedemptionRace,
];
/// Token request parameters the server knows (RFC 6749, 7523, 8693, the spec).
const KNOWN: &[&str] = &[
    "grant_type",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "scope",
    "code",
    "redirect_uri",
    "code_verifier",
    "refresh_token",
    "subject_token",
    "subject_token_type",
    "purpose",
    "user_lookup",
];

pub(crate) async fn inject(
    State(s): State<crate::app::Shared>,
    req: Request,
    next: Next,
) -> Response {
    let f = s.faults;
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    if path == "/oauth/revoke" && method == Method::POST && f.has(Fault::HangingRevoke) {
        std::future::pending::<()>().await;
    }
    if path == "/oauth/authorize"
        && f.has(Fault::ServerErrorOnMissingState)
        && !form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .any(|(k, v)| k == "state" && !v.is_empty())
    {
        return (StatusCode::INTERNAL_SERVER_ERROR, "unwrap on a None state").into_response();
    }
    if path == "/oauth/token" && method == Method::POST {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let refused = (ct.starts_with("application/x-www-form-urlencoded")
            && f.has(Fault::FormRefused))
            || (ct.starts_with("application/json") && f.has(Fault::JsonRefused));
        if refused {
            return ApiError::unsupported_media_type().into_response();
        }
    }
    let mut grant = None;
    let req = if path == "/oauth/token"
        && method == Method::POST
        && BODY_FAULTS.iter().any(|b| f.has(*b))
    {
        match token_request(&s, &f, req, &mut grant).await {
            Ok(r) => r,
            Err(resp) => return resp,
        }
    } else {
        req
    };
    let resp = next.run(req).await;
    respond(&f, &path, grant.as_deref(), resp).await
}

/// Applies the body-level request faults; `grant` receives the grant type.
async fn token_request(
    s: &crate::app::AppState,
    f: &Faults,
    req: Request,
    grant: &mut Option<String>,
) -> Result<Request, Response> {
    let (mut parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, s.reg.max_body_bytes)
        .await
        .map_err(|_| ApiError::payload_too_large(s.reg.max_body_bytes).into_response())?;
    let ct = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let json = ct.starts_with("application/json");
    let pairs: Vec<(String, String)> = if json {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(m)) => m
                .into_iter()
                .map(|(k, v)| {
                    let v = v
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v.to_string());
                    (k, v)
                })
                .collect(),
            Ok(Value::Array(_)) if f.has(Fault::PanicOnJsonArray) => {
                panic!("fault panic-on-json-array: a JSON array body")
            }
            _ => Vec::new(),
        }
    } else {
        form_urlencoded::parse(&bytes).into_owned().collect()
    };
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    *grant = get("grant_type").map(str::to_owned);
    if f.has(Fault::UnknownParamsRejected) {
        let unknown = pairs
            .iter()
            .any(|(k, _)| !KNOWN.contains(&k.as_str()) && !k.starts_with("user_lookup"));
        if unknown {
            return Err(ApiError::invalid_request("unsupported parameter").into_response());
        }
    }
    if f.has(Fault::ServerErrorOnLongScope) && get("scope").is_some_and(|sc| sc.len() > 1000) {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "OAUTH-500",
            "Internal error",
            "server_error",
            "scope buffer overflow",
        )
        .into_response());
    }
    if f.has(Fault::SlowToken) && grant.as_deref() == Some("client_credentials") {
        tokio::time::sleep(SLOW).await;
    }
    if f.has(Fault::CodeRedemptionRace) && grant.as_deref() == Some("authorization_code") {
        if let Some(code) = get("code") {
            let h = crate::store::hash_token(code);
            let fresh = s.store.codes.get(&h, |c| c.redeemed.is_none()) == Some(true);
            if fresh {
                tokio::time::sleep(RACE_WINDOW).await;
                parts
                    .headers
                    .insert(RACE_MARK, HeaderValue::from_static("1"));
            }
        }
    }
    let bytes = if f.has(Fault::DuplicateParamsAccepted) {
        dedupe(&bytes, json)
    } else {
        bytes.to_vec()
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// Keeps the last copy of each parameter, as lenient servers do.
fn dedupe(bytes: &[u8], json: bool) -> Vec<u8> {
    if json {
        return match serde_json::from_slice::<Value>(bytes) {
            Ok(v) => serde_json::to_vec(&v).unwrap_or_else(|_| bytes.to_vec()),
            Err(_) => bytes.to_vec(),
        };
    }
    let pairs: Vec<(String, String)> = form_urlencoded::parse(bytes).into_owned().collect();
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (i, (k, v)) in pairs.iter().enumerate() {
        if !pairs[i + 1..].iter().any(|(n, _)| n == k) {
            out.append_pair(k, v);
        }
    }
    out.finish().into_bytes()
}

/// Applies the response faults.
async fn respond(f: &Faults, path: &str, grant: Option<&str>, resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    let status = parts.status;
    if path == "/oauth/authorize" && status.is_redirection() {
        rewrite_location(f, &mut parts);
    }
    if status == StatusCode::METHOD_NOT_ALLOWED && f.has(Fault::MethodNotAllowedBare) {
        parts.headers.remove(header::CONTENT_TYPE);
        parts.headers.remove(header::CONTENT_LENGTH);
        return Response::from_parts(parts, Body::empty());
    }
    if status == StatusCode::UNAUTHORIZED
        && parts.headers.contains_key(header::WWW_AUTHENTICATE)
        && f.has(Fault::BasicFailureNoChallenge)
    {
        parts.status = StatusCode::BAD_REQUEST;
        parts.headers.remove(header::WWW_AUTHENTICATE);
    }
    let token_ok = path == "/oauth/token" && status == StatusCode::OK;
    if token_ok && f.has(Fault::NoPragma) {
        parts.headers.remove(header::PRAGMA);
    }
    if path == "/oauth/revoke" && status == StatusCode::OK && f.has(Fault::RevokeSuccessEmpty) {
        parts.headers.remove(header::CONTENT_TYPE);
        parts.headers.remove(header::CONTENT_LENGTH);
        return Response::from_parts(parts, Body::empty());
    }
    if token_ok && f.has(Fault::NoCacheControl) {
        parts.headers.remove(header::CACHE_CONTROL);
        parts.headers.remove(header::PRAGMA);
    }
    if token_ok && f.has(Fault::TokenContentTypeText) {
        parts
            .headers
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    }
    let is_json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let body_faults = (status.is_client_error()
        && (f.has(Fault::EnvelopeWithoutErrors)
            || f.has(Fault::StatusAsNumber)
            || f.has(Fault::ErrorStatus200)))
        || (token_ok
            && (f.has(Fault::MissingExpiresIn)
                || f.has(Fault::ExpiresAtNotDateTime)
                || f.has(Fault::TokenTypeWrong)
                || f.has(Fault::RefreshNotRotated)
                || f.has(Fault::RefreshForClientCredentials)))
        || (path == "/.well-known/oauth-authorization-server"
            && f.has(Fault::DiscoveryMissingFields));
    if !is_json || !body_faults {
        return Response::from_parts(parts, body);
    }
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let Ok(mut v) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    if let Some(m) = v.as_object_mut() {
        if status.is_client_error() {
            if f.has(Fault::ErrorStatus200)
                && status == StatusCode::BAD_REQUEST
                && m.get("errors")
                    .and_then(|e| e.pointer("/0/meta/error"))
                    .and_then(Value::as_str)
                    == Some("invalid_request")
            {
                parts.status = StatusCode::OK;
            }
            if f.has(Fault::StatusAsNumber) {
                if let Some(Value::Array(errs)) = m.get_mut("errors") {
                    for e in errs {
                        if let Some(n) = e
                            .get("status")
                            .and_then(Value::as_str)
                            .and_then(|s| s.parse::<u64>().ok())
                        {
                            e["status"] = Value::from(n);
                        }
                    }
                }
            }
            if f.has(Fault::EnvelopeWithoutErrors) {
                let error = m
                    .get("errors")
                    .and_then(|e| e.pointer("/0/meta/error"))
                    .cloned()
                    .unwrap_or(Value::Null);
                let description = m
                    .get("errors")
                    .and_then(|e| e.pointer("/0/detail"))
                    .cloned()
                    .unwrap_or(Value::Null);
                m.clear();
                m.insert("error".into(), error);
                m.insert("error_description".into(), description);
            }
        } else if token_ok {
            if f.has(Fault::MissingExpiresIn) {
                m.remove("expires_in");
            }
            if f.has(Fault::ExpiresAtNotDateTime) {
                let secs = crate::app::now_ms() / 1000 + 21_600;
                m.insert("expires_at".into(), Value::from(secs.to_string()));
            }
            if f.has(Fault::TokenTypeWrong) {
                m.insert("token_type".into(), Value::from("mac"));
            }
            if f.has(Fault::RefreshNotRotated) && grant == Some("refresh_token") {
                m.remove("refresh_token");
            }
            if f.has(Fault::RefreshForClientCredentials) && grant == Some("client_credentials") {
                let (t, _) = crate::store::new_token();
                m.insert("refresh_token".into(), Value::from(t));
            }
        } else {
            m.remove("token_endpoint");
            m.remove("revocation_endpoint");
        }
    }
    let out = serde_json::to_vec(&v).unwrap_or_else(|_| bytes.to_vec());
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(out))
}

/// The authorize redirect faults: 307 for errors, state dropped.
fn rewrite_location(f: &Faults, parts: &mut axum::http::response::Parts) {
    let Some(loc) = parts
        .headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return;
    };
    let Ok(mut url) = url::Url::parse(&loc) else {
        return;
    };
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let is_error = pairs.iter().any(|(k, _)| k == "error");
    let is_code = pairs.iter().any(|(k, _)| k == "code");
    if is_error && f.has(Fault::ErrorRedirect307) {
        parts.status = StatusCode::TEMPORARY_REDIRECT;
    }
    let drop_state = (is_error && f.has(Fault::ErrorRedirectDropsState))
        || (is_code && f.has(Fault::StateDropped));
    if drop_state {
        let kept: Vec<&(String, String)> = pairs.iter().filter(|(k, _)| k != "state").collect();
        url.query_pairs_mut().clear().extend_pairs(kept);
        if let Ok(v) = HeaderValue::from_str(url.as_str()) {
            parts.headers.insert(header::LOCATION, v);
        }
    }
}
