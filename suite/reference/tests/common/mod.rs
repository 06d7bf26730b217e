//! Shared helpers of the HTTP tests: start a server on 127.0.0.1:0, talk to it with
//! reqwest, run the authorize flow, sign client assertions, read Errors envelopes.
#![allow(dead_code)]

use std::net::SocketAddr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use qoauth_reference::{spawn, Fixture, RunningServer};
use reqwest::header::LOCATION;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const CONF_ID: &str = "web-confidential";
pub const CONF_SECRET: &str = "wc-secret-2f8e6a1d9c4b7e30a5f1";
pub const CONF_REDIRECT: &str = "https://app.example.com/callback";
pub const PUBLIC_ID: &str = "native-public";
pub const PUBLIC_REDIRECT: &str = "http://127.0.0.1:8765/callback";
pub const CONSENT_ID: &str = "spa-consent";
pub const CONSENT_REDIRECT: &str = "http://localhost:3000/callback";
pub const IMP_ID: &str = "web-impersonation";
pub const IMP_SECRET: &str = "wi-secret-7c1f3e9a5b2d8064e1c7";
pub const ASSERT_ID: &str = "web-assertion";
pub const LIMITED_ID: &str = "web-limited";
pub const LIMITED_SECRET: &str = "wl-secret-0d4b8f2a6e1c9357b3a9";

pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

pub async fn start() -> RunningServer {
    spawn(Fixture::default_fixture(), loopback()).await.unwrap()
}

/// Starts a server on a variant of the default fixture.
pub async fn start_with(edit: impl FnOnce(&mut Value)) -> RunningServer {
    let mut v: Value = serde_json::from_str(Fixture::default_json()).unwrap();
    edit(&mut v);
    let f = Fixture::from_json(&v.to_string()).unwrap();
    spawn(f, loopback()).await.unwrap()
}

/// A client that never follows redirects and keeps no cookies unless asked.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn http_with_cookies() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

/// A PKCE verifier and its S256 challenge (RFC 7636 4.1, 4.2).
pub fn pkce() -> (String, String) {
    let verifier: String = (0..64)
        .map(|i| {
            let r: u8 = rand::random::<u8>() % 62;
            let _ = i;
            (match r {
                0..=25 => b'a' + r,
                26..=51 => b'A' + r - 26,
                _ => b'0' + r - 52,
            }) as char
        })
        .collect();
    (verifier.clone(), s256(&verifier))
}

pub fn s256(v: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()))
}

pub fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The query of a Location header, as pairs.
pub fn location_params(resp: &reqwest::Response) -> Vec<(String, String)> {
    let loc = resp
        .headers()
        .get(LOCATION)
        .expect("a Location header")
        .to_str()
        .unwrap();
    let q = loc.split_once('?').map(|x| x.1).unwrap_or("");
    form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub fn param(params: &[(String, String)], name: &str) -> Option<String> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(LOCATION)
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_owned()
}

/// The authorize query for a client, with PKCE and a login_hint.
pub fn authorize_query(
    client: &str,
    redirect: &str,
    scope: &str,
    challenge: &str,
    hint: Option<&str>,
) -> String {
    let mut q = format!(
        "response_type=code&client_id={}&redirect_uri={}&scope={}&state=st4te&code_challenge={challenge}&code_challenge_method=S256",
        enc(client),
        enc(redirect),
        enc(scope)
    );
    if let Some(h) = hint {
        q.push_str(&format!("&login_hint={}", enc(h)));
    }
    q
}

/// Runs authorize with an auto sign-in by login_hint and returns (code, verifier).
pub async fn get_code(
    srv: &RunningServer,
    client: &str,
    redirect: &str,
    scope: &str,
) -> (String, String) {
    let (verifier, challenge) = pkce();
    let q = authorize_query(
        client,
        redirect,
        scope,
        &challenge,
        Some("alice@example.com"),
    );
    let resp = http()
        .get(format!("{}/oauth/authorize?{q}", srv.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302, "authorize should redirect with a code");
    assert!(
        location(&resp).starts_with(redirect),
        "redirects to the client"
    );
    let params = location_params(&resp);
    assert_eq!(param(&params, "state").as_deref(), Some("st4te"));
    (param(&params, "code").expect("a code"), verifier)
}

pub fn code_body(client: &str, code: &str, redirect: &str, verifier: &str) -> Value {
    json!({
        "grant_type": "authorization_code",
        "client_id": client,
        "code": code,
        "redirect_uri": redirect,
        "code_verifier": verifier,
    })
}

pub async fn post_json(srv: &RunningServer, path: &str, body: &Value) -> reqwest::Response {
    http()
        .post(format!("{}{path}", srv.base_url))
        .json(body)
        .send()
        .await
        .unwrap()
}

pub async fn post_form(
    srv: &RunningServer,
    path: &str,
    body: &[(&str, &str)],
) -> reqwest::Response {
    let b: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(body)
        .finish();
    http()
        .post(format!("{}{path}", srv.base_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(b)
        .send()
        .await
        .unwrap()
}

/// Obtains tokens for the public client through the code flow with offline_access.
pub async fn public_tokens(srv: &RunningServer) -> Value {
    let (code, verifier) = get_code(
        srv,
        PUBLIC_ID,
        PUBLIC_REDIRECT,
        "user_default offline_access",
    )
    .await;
    let r = post_json(
        srv,
        "/oauth/token",
        &code_body(PUBLIC_ID, &code, PUBLIC_REDIRECT, &verifier),
    )
    .await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

pub async fn cc_token(srv: &RunningServer) -> Value {
    let r = post_json(
        srv,
        "/oauth/token",
        &json!({"grant_type":"client_credentials","client_id":CONF_ID,"client_secret":CONF_SECRET}),
    )
    .await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Asserts an Errors envelope with the given status and RFC error name; returns the
/// first error.
pub async fn expect_error(resp: reqwest::Response, status: u16, rfc_error: &str) -> Value {
    assert_eq!(resp.status().as_u16(), status, "status");
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(ct.starts_with("application/json"), "content-type {ct}");
    let v: Value = resp.json().await.expect("a JSON body");
    let e = &v["errors"][0];
    assert_eq!(
        e["status"],
        json!(status.to_string()),
        "status string in {v}"
    );
    assert!(
        e["code"].as_str().is_some_and(|c| !c.is_empty()),
        "code in {v}"
    );
    assert!(e["title"].as_str().is_some(), "title in {v}");
    assert_eq!(
        e["meta"]["error"],
        json!(rfc_error),
        "RFC error name in {v}"
    );
    e.clone()
}

pub fn keys_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../cases/profiles/keys")
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Signs a client assertion for web-assertion with the named key file.
pub fn assertion(
    srv: &RunningServer,
    key_file: &str,
    alg: jsonwebtoken::Algorithm,
    kid: Option<&str>,
    claims: Value,
) -> String {
    let pem = std::fs::read(keys_dir().join(key_file)).unwrap();
    let key = match alg {
        jsonwebtoken::Algorithm::ES384 => jsonwebtoken::EncodingKey::from_ec_pem(&pem).unwrap(),
        _ => jsonwebtoken::EncodingKey::from_rsa_pem(&pem).unwrap(),
    };
    let mut header = jsonwebtoken::Header::new(alg);
    header.kid = kid.map(str::to_owned);
    let _ = srv;
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

pub fn assertion_claims(srv: &RunningServer) -> Value {
    let t = now();
    json!({
        "iss": ASSERT_ID,
        "sub": ASSERT_ID,
        "aud": format!("{}/oauth/token", srv.base_url),
        "jti": uuid::Uuid::new_v4().to_string(),
        "iat": t,
        "exp": t + 60,
    })
}
