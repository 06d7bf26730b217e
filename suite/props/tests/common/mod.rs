//! Deliberately broken servers: the reference app behind a layer that breaks one rule,
//! so each property has a server it must catch.

#![allow(dead_code)]

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::Response;
use qoauth_testkit::pkce::s256;
use qoauth_testkit::server::Served;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// The rule a server breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 500 for every refused form-encoded token request.
    ServerErrorOnForm,
    /// Error envelopes whose status says 400 whatever the HTTP status.
    EnvelopeStatusWrong,
    /// token_type "mac" in token responses.
    TokenTypeMac,
    /// No Cache-Control on token responses.
    NoStoreMissing,
    /// The spec's example expiry (1970) and no expires_in.
    ExpiryInPast,
    /// Redirects to whatever redirect_uri was asked when the reference refuses.
    RedirectsAnywhere,
    /// Drops state from redirects back to the client.
    DropsState,
    /// Accepts any verifier for a code.
    AnyVerifier,
    /// Answers a repeated redemption, refresh or assertion with the first answer
    /// (single-flight with a cache: also lets racing requests all succeed).
    Replays,
    /// Answers 200 to revocations without revoking.
    IgnoresRevocation,
    /// Adds admin_classic to every granted scope.
    WidensScope,
    /// Repeats the client secret and verifier in every token response.
    EchoesSecrets,
    /// Answers 400 where the reference answers 401.
    Refuses400,
}

/// A response taken apart: status, headers, body.
type Parts = (StatusCode, Vec<(String, String)>, Vec<u8>);

#[derive(Default)]
struct FaultState {
    fault: Option<Fault>,
    /// Code -> challenge, learned from authorize requests and their redirects.
    challenges: Mutex<HashMap<String, String>>,
    /// Single-flight answers by credential.
    replies: Mutex<HashMap<String, Arc<OnceCell<Parts>>>>,
}

fn params(body: &[u8], ct: &str) -> HashMap<String, String> {
    if ct.contains("json") {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(o)) => o
                .into_iter()
                .map(|(k, v)| {
                    (
                        k,
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect(),
            _ => HashMap::new(),
        }
    } else {
        url::form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }
}

async fn split(resp: Response) -> Parts {
    let status = resp.status();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = to_bytes(resp.into_body(), 1 << 20)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    (status, headers, body)
}

fn build(status: StatusCode, headers: &[(String, String)], body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    for (k, v) in headers {
        if k == "content-length" {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            axum::http::HeaderName::try_from(k.as_str()),
            HeaderValue::from_str(v),
        ) {
            r.headers_mut().append(n, v);
        }
    }
    r
}

fn json_edit(body: &[u8], f: impl FnOnce(&mut Value)) -> Vec<u8> {
    match serde_json::from_slice::<Value>(body) {
        Ok(mut v) => {
            f(&mut v);
            v.to_string().into_bytes()
        }
        Err(_) => body.to_vec(),
    }
}

async fn layer(State(st): State<Arc<FaultState>>, req: Request, next: Next) -> Response {
    let fault = st.fault;
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let ct = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let (parts, body) = req.into_parts();
    let body = to_bytes(body, 1 << 20)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    let p = params(&body, &ct);
    let q: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let req = Request::from_parts(parts, Body::from(body.clone()));

    if fault == Some(Fault::IgnoresRevocation) && path == "/oauth/revoke" {
        return build(
            StatusCode::OK,
            &[("content-type".into(), "application/json".into())],
            b"{}".to_vec(),
        );
    }
    if fault == Some(Fault::AnyVerifier)
        && path == "/oauth/token"
        && p.get("grant_type").map(String::as_str) == Some("authorization_code")
    {
        let code = p.get("code").cloned().unwrap_or_default();
        let known = st.challenges.lock().unwrap().get(&code).cloned();
        if let Some(ch) = known {
            let ver = p.get("code_verifier").cloned().unwrap_or_default();
            if s256(&ver) != ch {
                let body = json!({"access_token": "fake-access-token-0123456789abcdef", "token_type": "bearer", "expires_in": 3600, "scope": "user_default"});
                return build(
                    StatusCode::OK,
                    &[
                        ("content-type".into(), "application/json".into()),
                        ("cache-control".into(), "no-store".into()),
                    ],
                    body.to_string().into_bytes(),
                );
            }
        }
    }
    if fault == Some(Fault::Replays) && path == "/oauth/token" {
        let key = ["code", "refresh_token", "client_assertion"]
            .iter()
            .find_map(|k| p.get(*k).map(|v| format!("{k}={v}")));
        if let Some(key) = key {
            let cell = st.replies.lock().unwrap().entry(key).or_default().clone();
            let (s, h, b) = cell
                .get_or_init(|| async move { split(next.run(req).await).await })
                .await
                .clone();
            return build(s, &h, b);
        }
    }

    let resp = next.run(req).await;
    let (status, mut headers, mut rbody) = split(resp).await;
    let is_token = path == "/oauth/token";
    match fault {
        Some(Fault::ServerErrorOnForm)
            if is_token && !ct.contains("json") && status.is_client_error() =>
        {
            return build(
                StatusCode::INTERNAL_SERVER_ERROR,
                &[],
                b"internal error".to_vec(),
            );
        }
        Some(Fault::EnvelopeStatusWrong)
            if status.is_client_error() && status != StatusCode::BAD_REQUEST =>
        {
            rbody = json_edit(&rbody, |v| {
                if let Some(e) = v.pointer_mut("/errors/0/status") {
                    *e = json!("400");
                }
            });
        }
        Some(Fault::TokenTypeMac) if is_token && status == StatusCode::OK => {
            rbody = json_edit(&rbody, |v| v["token_type"] = json!("mac"));
        }
        Some(Fault::NoStoreMissing) if is_token && status == StatusCode::OK => {
            headers.retain(|(k, _)| k != "cache-control");
        }
        Some(Fault::ExpiryInPast) if is_token && status == StatusCode::OK => {
            rbody = json_edit(&rbody, |v| {
                if let Some(o) = v.as_object_mut() {
                    o.remove("expires_in");
                    o.insert("expires_at".into(), json!("1970-01-18T13:17:10.931Z"));
                }
            });
        }
        Some(Fault::RedirectsAnywhere)
            if path == "/oauth/authorize" && status == StatusCode::BAD_REQUEST =>
        {
            if let Some(r) = q.get("redirect_uri").filter(|r| r.starts_with("http")) {
                let state = q.get("state").cloned().unwrap_or_default();
                let loc = format!(
                    "{r}?error=invalid_request&state={}",
                    url::form_urlencoded::byte_serialize(state.as_bytes()).collect::<String>()
                );
                return build(StatusCode::FOUND, &[("location".into(), loc)], Vec::new());
            }
        }
        Some(Fault::DropsState) if path == "/oauth/authorize" => {
            for (k, v) in headers.iter_mut() {
                if k == "location" {
                    if let Ok(mut u) = url::Url::parse(v) {
                        let kept: Vec<(String, String)> = u
                            .query_pairs()
                            .filter(|(k, _)| k != "state")
                            .map(|(k, v)| (k.into_owned(), v.into_owned()))
                            .collect();
                        u.query_pairs_mut().clear().extend_pairs(kept);
                        *v = u.to_string();
                    }
                }
            }
        }
        Some(Fault::AnyVerifier) if path == "/oauth/authorize" => {
            if let (Some(ch), Some(loc)) = (
                q.get("code_challenge"),
                headers
                    .iter()
                    .find(|(k, _)| k == "location")
                    .map(|(_, v)| v.clone()),
            ) {
                if let Ok(u) = url::Url::parse(&loc) {
                    if let Some((_, code)) = u.query_pairs().find(|(k, _)| k == "code") {
                        st.challenges
                            .lock()
                            .unwrap()
                            .insert(code.into_owned(), ch.clone());
                    }
                }
            }
        }
        Some(Fault::Refuses400) if status == StatusCode::UNAUTHORIZED => {
            rbody = json_edit(&rbody, |v| {
                if let Some(e) = v.pointer_mut("/errors/0/status") {
                    *e = json!("400");
                }
            });
            headers.retain(|(k, _)| k != "www-authenticate");
            return build(StatusCode::BAD_REQUEST, &headers, rbody);
        }
        Some(Fault::WidensScope) if is_token && status == StatusCode::OK => {
            rbody = json_edit(&rbody, |v| {
                let s = v
                    .get("scope")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                v["scope"] = json!(format!("{s} admin_classic").trim().to_string());
            });
        }
        Some(Fault::EchoesSecrets) if is_token => {
            let echo: Vec<String> = ["client_secret", "code_verifier"]
                .iter()
                .filter_map(|k| p.get(*k).cloned())
                .collect();
            if !echo.is_empty() {
                rbody = json_edit(&rbody, |v| {
                    if let Some(o) = v.as_object_mut() {
                        o.insert(
                            "debug".into(),
                            json!(format!("received {}", echo.join(" "))),
                        );
                    }
                });
            }
        }
        _ => {}
    }
    build(status, &headers, rbody)
}

/// Serves the reference app, broken by `fault` (or intact for `None`), until the
/// returned server is dropped.
pub async fn serve(fault: Option<Fault>) -> Served {
    let st = Arc::new(FaultState {
        fault,
        ..FaultState::default()
    });
    let app = qoauth_reference::router(qoauth_reference::Fixture::default_fixture())
        .layer(from_fn_with_state(st, layer));
    qoauth_testkit::server::serve(app).await
}

/// Cases per property in tests: small by default, raised by QOAUTH_PROPTEST_CASES.
pub fn cases(default: u32) -> u32 {
    std::env::var("QOAUTH_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A fresh directory for a test's case files (not created: the run creates it).
pub fn out_dir(name: &str) -> std::path::PathBuf {
    qoauth_testkit::paths::scratch_path(&format!("props-{name}"))
}
