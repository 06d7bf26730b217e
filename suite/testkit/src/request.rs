//! Requests to a running reference, the ones its tests send again and again: the
//! authorize query, the code flow with an automatic sign-in, token and revoke posts, and
//! the redirect's parameters read back.

use qoauth_reference::RunningServer;
use reqwest::header::LOCATION;
use serde_json::{json, Value};

use crate::pkce;
use crate::reference::{CONF_ID, CONF_SECRET, PUBLIC_ID, PUBLIC_REDIRECT};

/// The state every authorize query here sends, and every redirect must carry back.
pub const STATE: &str = "st4te";

/// A client that never follows redirects (each step is checked) and keeps no cookies.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

/// [`http`] with a cookie store, for flows that rely on the sign-in session.
pub fn http_with_cookies() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("an HTTP client")
}

/// `s` form-urlencoded, for a query built by hand.
pub fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The Location header of a redirect.
pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(LOCATION)
        .expect("a Location header")
        .to_str()
        .expect("a readable Location")
        .to_owned()
}

/// The query of a redirect's Location header, as pairs in order.
pub fn location_params(resp: &reqwest::Response) -> Vec<(String, String)> {
    let loc = location(resp);
    let q = loc.split_once('?').map(|x| x.1).unwrap_or("");
    form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The first value of `name` among `params`.
pub fn param(params: &[(String, String)], name: &str) -> Option<String> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// The authorize query for a client, with PKCE S256, [`STATE`] and, when given, a
/// login_hint (which the reference's built-in identity provider signs in at once).
pub fn authorize_query(
    client: &str,
    redirect: &str,
    scope: &str,
    challenge: &str,
    hint: Option<&str>,
) -> String {
    let mut q = format!(
        "response_type=code&client_id={}&redirect_uri={}&scope={}&state={STATE}&code_challenge={challenge}&code_challenge_method=S256",
        enc(client),
        enc(redirect),
        enc(scope)
    );
    if let Some(h) = hint {
        q.push_str(&format!("&login_hint={}", enc(h)));
    }
    q
}

/// Runs authorize with an automatic sign-in of the user `login_hint` names, with a fresh
/// PKCE pair; returns the answer and the verifier, whatever the answer is.
pub async fn sign_in(
    srv: &RunningServer,
    client: &str,
    redirect: &str,
    scope: &str,
    login_hint: &str,
) -> (reqwest::Response, String) {
    let (verifier, challenge) = pkce::pair();
    let q = authorize_query(client, redirect, scope, &challenge, Some(login_hint));
    let resp = http()
        .get(format!("{}/oauth/authorize?{q}", srv.base_url))
        .send()
        .await
        .expect("authorize answers");
    (resp, verifier)
}

/// Runs authorize with an automatic sign-in (login_hint alice) and returns
/// `(code, verifier)`, asserting the redirect goes to the client with the state.
pub async fn get_code(
    srv: &RunningServer,
    client: &str,
    redirect: &str,
    scope: &str,
) -> (String, String) {
    get_code_of(srv, client, redirect, scope, "alice@example.com").await
}

/// [`get_code`] for the user `login_hint` names.
pub async fn get_code_of(
    srv: &RunningServer,
    client: &str,
    redirect: &str,
    scope: &str,
    login_hint: &str,
) -> (String, String) {
    let (resp, verifier) = sign_in(srv, client, redirect, scope, login_hint).await;
    assert_eq!(resp.status(), 302, "authorize should redirect with a code");
    assert!(
        location(&resp).starts_with(redirect),
        "redirects to the client"
    );
    let params = location_params(&resp);
    assert_eq!(param(&params, "state").as_deref(), Some(STATE));
    (param(&params, "code").expect("a code"), verifier)
}

/// The JSON body that redeems `code` (authorization_code grant, public client form).
pub fn code_body(client: &str, code: &str, redirect: &str, verifier: &str) -> Value {
    json!({
        "grant_type": "authorization_code",
        "client_id": client,
        "code": code,
        "redirect_uri": redirect,
        "code_verifier": verifier,
    })
}

/// POSTs `body` as JSON to `path` on `srv`.
pub async fn post_json(srv: &RunningServer, path: &str, body: &Value) -> reqwest::Response {
    http()
        .post(format!("{}{path}", srv.base_url))
        .json(body)
        .send()
        .await
        .expect("the server answers")
}

/// POSTs `body` form-encoded to `path` on `srv`, pairs in order (so a repeated name is
/// sent twice).
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
        .expect("the server answers")
}

/// Tokens of the public client through the code flow with offline_access (so with a
/// refresh token), asserting the redemption succeeds.
pub async fn public_tokens(srv: &RunningServer) -> Value {
    public_tokens_of(srv, "alice@example.com").await
}

/// [`public_tokens`] for the user `login_hint` names.
pub async fn public_tokens_of(srv: &RunningServer, login_hint: &str) -> Value {
    let (code, verifier) = get_code_of(
        srv,
        PUBLIC_ID,
        PUBLIC_REDIRECT,
        "user_default offline_access",
        login_hint,
    )
    .await;
    let r = post_json(
        srv,
        "/oauth/token",
        &code_body(PUBLIC_ID, &code, PUBLIC_REDIRECT, &verifier),
    )
    .await;
    assert_eq!(r.status(), 200);
    r.json().await.expect("a JSON token response")
}

/// A client_credentials token of the confidential client, asserting success.
pub async fn cc_token(srv: &RunningServer) -> Value {
    cc_token_of(srv, CONF_ID, CONF_SECRET).await
}

/// A client_credentials token of the client `id`, asserting success.
pub async fn cc_token_of(srv: &RunningServer, id: &str, secret: &str) -> Value {
    let r = post_json(
        srv,
        "/oauth/token",
        &json!({"grant_type":"client_credentials","client_id":id,"client_secret":secret}),
    )
    .await;
    assert_eq!(r.status(), 200);
    r.json().await.expect("a JSON token response")
}

/// `PATCH /api/v1/users/{user}` replacing the user's status (`active` or `disabled`), with
/// `token` as the bearer when given.
pub async fn set_user_status(
    srv: &RunningServer,
    user: &str,
    token: Option<&str>,
    body: &str,
) -> reqwest::Response {
    let mut req = http()
        .patch(format!("{}/api/v1/users/{user}", srv.base_url))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("the server answers")
}

/// The JSON Patch that sets a user's status.
pub fn status_patch(value: &str) -> String {
    json!([{"op": "replace", "path": "/status", "value": value}]).to_string()
}

/// A token exchange (RFC 8693, Qlik's websocket purpose) of the access token `subject` by
/// `client`: a cheap way to ask whether an access token still works.
pub async fn exchange(srv: &RunningServer, client: &str, subject: &str) -> reqwest::Response {
    post_json(
        srv,
        "/oauth/token",
        &json!({
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "client_id": client,
            "subject_token": subject,
            "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "purpose": "websocket",
        }),
    )
    .await
}
