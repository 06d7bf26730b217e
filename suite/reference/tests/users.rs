//! `PATCH /api/v1/users/{id}`, the users API subset that lets a case disable a user, and
//! what disabling does to the user's codes, refresh tokens and sign-ins; and the per-client
//! token cap.

use qoauth_reference::RunningServer;
use qoauth_testkit::envelope::{expect_envelope, expect_error};
use qoauth_testkit::pkce;
use qoauth_testkit::reference::*;
use qoauth_testkit::request::*;
use serde_json::{json, Value};

async fn token_of(srv: &RunningServer, id: &str, secret: &str) -> String {
    let r = post_json(
        srv,
        "/oauth/token",
        &json!({"grant_type":"client_credentials","client_id":id,"client_secret":secret}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_string()
}

async fn patch(
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

fn status(value: &str) -> String {
    json!([{"op":"replace","path":"/status","value":value}]).to_string()
}

/// The suspendable user's code, through an automatic sign-in with offline_access.
async fn erin_code(srv: &RunningServer) -> (reqwest::Response, String) {
    let (verifier, challenge) = pkce::pair();
    let q = authorize_query(
        PUBLIC_ID,
        PUBLIC_REDIRECT,
        "user_default offline_access",
        &challenge,
        Some("erin@example.com"),
    );
    let resp = http()
        .get(format!("{}/oauth/authorize?{q}", srv.base_url))
        .send()
        .await
        .unwrap();
    (resp, verifier)
}

#[tokio::test]
async fn only_an_admin_clients_live_token_changes_a_user() {
    let srv = start().await;
    let r = patch(&srv, SUSPENDABLE_USER, None, &status("disabled")).await;
    expect_envelope(r, 401).await;
    let r = patch(
        &srv,
        SUSPENDABLE_USER,
        Some("not-a-token"),
        &status("disabled"),
    )
    .await;
    expect_envelope(r, 401).await;
    let plain = token_of(&srv, CONF_ID, CONF_SECRET).await;
    let r = patch(&srv, SUSPENDABLE_USER, Some(&plain), &status("disabled")).await;
    expect_envelope(r, 403).await;
    let admin = token_of(&srv, ADMIN_ID, ADMIN_SECRET).await;
    let r = patch(&srv, "user-nobody", Some(&admin), &status("disabled")).await;
    expect_envelope(r, 404).await;
    for bad in [
        "{}",
        "not json",
        r#"[{"op":"remove","path":"/status"}]"#,
        r#"[{"op":"replace","path":"/name","value":"x"}]"#,
        r#"[{"op":"replace","path":"/status","value":"deleted"}]"#,
    ] {
        let r = patch(&srv, SUSPENDABLE_USER, Some(&admin), bad).await;
        expect_error(r, 400, "invalid_request").await;
    }
    let r = http()
        .get(format!("{}/api/v1/users/{SUSPENDABLE_USER}", srv.base_url))
        .send()
        .await
        .unwrap();
    expect_envelope(r, 405).await;
    // None of the refused requests changed the user: a sign-in still yields a code.
    let (resp, _) = erin_code(&srv).await;
    assert!(param(&location_params(&resp), "code").is_some());
    srv.shutdown().await;
}

#[tokio::test]
async fn a_user_disabled_after_sign_in_loses_code_refresh_and_session() {
    let srv = start().await;
    let admin = token_of(&srv, ADMIN_ID, ADMIN_SECRET).await;
    // A refresh token, and a second code not yet redeemed, both from before the change.
    let (resp, verifier) = erin_code(&srv).await;
    let code = param(&location_params(&resp), "code").unwrap();
    let r = post_json(
        &srv,
        "/oauth/token",
        &code_body(PUBLIC_ID, &code, PUBLIC_REDIRECT, &verifier),
    )
    .await;
    assert_eq!(r.status(), 200);
    let tokens: Value = r.json().await.unwrap();
    let (resp, verifier) = erin_code(&srv).await;
    let code = param(&location_params(&resp), "code").unwrap();

    let r = patch(&srv, SUSPENDABLE_USER, Some(&admin), &status("disabled")).await;
    assert_eq!(r.status(), 204);
    let r = post_json(
        &srv,
        "/oauth/token",
        &code_body(PUBLIC_ID, &code, PUBLIC_REDIRECT, &verifier),
    )
    .await;
    expect_error(r, 403, "access_denied").await;
    let refresh = json!({"grant_type":"refresh_token","client_id":PUBLIC_ID,"refresh_token":tokens["refresh_token"]});
    let r = post_json(&srv, "/oauth/token", &refresh).await;
    expect_error(r, 403, "access_denied").await;
    let (resp, _) = erin_code(&srv).await;
    assert_eq!(
        param(&location_params(&resp), "error").as_deref(),
        Some("access_denied"),
        "a disabled user cannot sign in"
    );

    // Re-enabled, the refresh token works again: disabling refused it, it did not revoke it.
    let r = patch(&srv, SUSPENDABLE_USER, Some(&admin), &status("active")).await;
    assert_eq!(r.status(), 204);
    let r = post_json(&srv, "/oauth/token", &refresh).await;
    assert_eq!(r.status(), 200);
    srv.shutdown().await;
}

#[tokio::test]
async fn a_change_stays_on_its_own_server() {
    let fixture = qoauth_reference::Fixture::default_fixture();
    let a = qoauth_reference::spawn(fixture.clone(), qoauth_testkit::server::loopback())
        .await
        .unwrap();
    let b = qoauth_reference::spawn(fixture, qoauth_testkit::server::loopback())
        .await
        .unwrap();
    let admin = token_of(&a, ADMIN_ID, ADMIN_SECRET).await;
    let r = patch(&a, SUSPENDABLE_USER, Some(&admin), &status("disabled")).await;
    assert_eq!(r.status(), 204);
    let (resp, _) = erin_code(&b).await;
    assert!(param(&location_params(&resp), "code").is_some());
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn a_clients_own_cap_overrides_the_tenants() {
    let srv = start().await;
    for _ in 0..20 {
        token_of(&srv, CAPPED_ID, CAPPED_SECRET).await;
    }
    let r = post_json(
        &srv,
        "/oauth/token",
        &json!({"grant_type":"client_credentials","client_id":CAPPED_ID,"client_secret":CAPPED_SECRET}),
    )
    .await;
    expect_error(r, 403, "access_denied").await;
    // Other clients keep the tenant's cap of 100,000.
    for _ in 0..25 {
        token_of(&srv, CONF_ID, CONF_SECRET).await;
    }
    srv.shutdown().await;
}
