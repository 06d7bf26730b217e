//! `PATCH /api/v1/users/{id}`, the users API subset that lets a case disable a user, and
//! what disabling does to the user's codes, refresh tokens and sign-ins; and the per-client
//! token cap.

use qoauth_reference::RunningServer;
use qoauth_testkit::envelope::{expect_envelope, expect_error};
use qoauth_testkit::reference::*;
use qoauth_testkit::request::*;
use serde_json::json;

const ERIN: &str = "erin@example.com";

async fn admin_token(srv: &RunningServer) -> String {
    let v = cc_token_of(srv, ADMIN_ID, ADMIN_SECRET).await;
    v["access_token"].as_str().unwrap().to_string()
}

/// Erin's sign-in: a code unless she is disabled.
async fn erin_sign_in(srv: &RunningServer) -> (reqwest::Response, String) {
    sign_in(srv, PUBLIC_ID, PUBLIC_REDIRECT, "user_default", ERIN).await
}

#[tokio::test]
async fn only_an_admin_clients_live_token_changes_a_user() {
    let srv = start().await;
    let disable = status_patch("disabled");
    let r = set_user_status(&srv, SUSPENDABLE_USER, None, &disable).await;
    expect_envelope(r, 401).await;
    let r = set_user_status(&srv, SUSPENDABLE_USER, Some("not-a-token"), &disable).await;
    expect_envelope(r, 401).await;
    let plain = cc_token(&srv).await;
    let plain = plain["access_token"].as_str().unwrap();
    let r = set_user_status(&srv, SUSPENDABLE_USER, Some(plain), &disable).await;
    expect_envelope(r, 403).await;
    let admin = admin_token(&srv).await;
    let r = set_user_status(&srv, "user-nobody", Some(&admin), &disable).await;
    expect_envelope(r, 404).await;
    for bad in [
        "{}",
        "not json",
        r#"[{"op":"remove","path":"/status"}]"#,
        r#"[{"op":"replace","path":"/name","value":"x"}]"#,
        r#"[{"op":"replace","path":"/status","value":"deleted"}]"#,
    ] {
        let r = set_user_status(&srv, SUSPENDABLE_USER, Some(&admin), bad).await;
        expect_error(r, 400, "invalid_request").await;
    }
    let r = http()
        .get(format!("{}/api/v1/users/{SUSPENDABLE_USER}", srv.base_url))
        .send()
        .await
        .unwrap();
    expect_envelope(r, 405).await;
    // None of the refused requests changed the user: a sign-in still yields a code.
    let (resp, _) = erin_sign_in(&srv).await;
    assert!(param(&location_params(&resp), "code").is_some());
    srv.shutdown().await;
}

#[tokio::test]
async fn a_user_disabled_after_sign_in_loses_code_refresh_and_session() {
    let srv = start().await;
    let admin = admin_token(&srv).await;
    // A refresh token, and a code not yet redeemed, both from before the change.
    let tokens = public_tokens_of(&srv, ERIN).await;
    let (code, verifier) =
        get_code_of(&srv, PUBLIC_ID, PUBLIC_REDIRECT, "user_default", ERIN).await;

    let r = set_user_status(
        &srv,
        SUSPENDABLE_USER,
        Some(&admin),
        &status_patch("disabled"),
    )
    .await;
    assert_eq!(r.status(), 204);
    let redeem = code_body(PUBLIC_ID, &code, PUBLIC_REDIRECT, &verifier);
    expect_error(
        post_json(&srv, "/oauth/token", &redeem).await,
        403,
        "access_denied",
    )
    .await;
    let refresh = json!({"grant_type":"refresh_token","client_id":PUBLIC_ID,"refresh_token":tokens["refresh_token"]});
    expect_error(
        post_json(&srv, "/oauth/token", &refresh).await,
        403,
        "access_denied",
    )
    .await;
    let (resp, _) = erin_sign_in(&srv).await;
    assert_eq!(
        param(&location_params(&resp), "error").as_deref(),
        Some("access_denied"),
        "a disabled user cannot sign in"
    );

    // Re-enabled, the refresh token works again: disabling refused it, it did not revoke it.
    let r = set_user_status(
        &srv,
        SUSPENDABLE_USER,
        Some(&admin),
        &status_patch("active"),
    )
    .await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        post_json(&srv, "/oauth/token", &refresh).await.status(),
        200
    );
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
    let admin = admin_token(&a).await;
    let r = set_user_status(
        &a,
        SUSPENDABLE_USER,
        Some(&admin),
        &status_patch("disabled"),
    )
    .await;
    assert_eq!(r.status(), 204);
    let (resp, _) = erin_sign_in(&b).await;
    assert!(param(&location_params(&resp), "code").is_some());
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn a_clients_own_cap_overrides_the_tenants() {
    let srv = start().await;
    for _ in 0..20 {
        cc_token_of(&srv, CAPPED_ID, CAPPED_SECRET).await;
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
        cc_token(&srv).await;
    }
    srv.shutdown().await;
}
