//! POST /oauth/token and POST /oauth/revoke through HTTP, one test per rule.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use jsonwebtoken::Algorithm;
use qoauth_testkit::envelope::{assert_errors, expect_error};
use qoauth_testkit::pkce;
use qoauth_testkit::reference::*;
use qoauth_testkit::request::*;
use serde_json::{json, Value};

fn parse_time(s: &str) -> i128 {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap()
        .unix_timestamp_nanos()
        / 1_000_000
}

#[tokio::test]
async fn client_credentials_json_response_shape() {
    let srv = start().await;
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i128;
    let r = post_json(
        &srv,
        "/oauth/token",
        &json!({"grant_type":"client_credentials","client_id":CONF_ID,"client_secret":CONF_SECRET,"scope":"user_default"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    // RFC 6749 5.1.
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["pragma"], "no-cache");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["token_type"], "bearer");
    assert_eq!(v["scope"], "user_default");
    assert_eq!(v["expires_in"], 21600);
    assert!(
        v.get("refresh_token").is_none(),
        "no refresh token for client_credentials"
    );
    let at = v["access_token"].as_str().unwrap();
    assert!(at.len() >= 43, "at least 256 bits");
    assert!(at
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    let exp_at = v["expires_at"].as_str().unwrap();
    assert_eq!(exp_at.len(), 24, "ISO-8601 with milliseconds: {exp_at}");
    let delta = parse_time(exp_at) - before;
    assert!(
        (21_600_000..21_610_000).contains(&delta),
        "expires_at consistent with expires_in"
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn client_credentials_form_and_default_scope() {
    let srv = start().await;
    let r = post_form(
        &srv,
        "/oauth/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CONF_ID),
            ("client_secret", CONF_SECRET),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    // An empty scope is the allow list minus offline_access (notes ambiguity 9).
    assert_eq!(
        v["scope"],
        "user_default apps:read users:read identity.email:read"
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn client_credentials_never_gets_offline_access_or_refresh() {
    let srv = start().await;
    let r = post_json(
        &srv,
        "/oauth/token",
        &json!({"grant_type":"client_credentials","client_id":CONF_ID,"client_secret":CONF_SECRET,"scope":"user_default offline_access"}),
    )
    .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["scope"], "user_default");
    assert!(v.get("refresh_token").is_none());
    srv.shutdown().await;
}

#[tokio::test]
async fn basic_auth_without_client_id_in_body() {
    let srv = start().await;
    // [PY] sends Basic and no client_id at all.
    let r = http()
        .post(format!("{}/oauth/token", srv.base_url))
        .header(
            "authorization",
            format!(
                "Basic {}",
                STANDARD.encode(format!("{CONF_ID}:{CONF_SECRET}"))
            ),
        )
        .json(&json!({"grant_type":"client_credentials","scope":"user_default"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    srv.shutdown().await;
}

#[tokio::test]
async fn basic_auth_is_form_decoded() {
    let srv = start().await;
    // RFC 6749 2.3.1: the id and secret are form-urlencoded before base64.
    let encoded = format!("{}:{}", enc(CONF_ID), enc(CONF_SECRET)).replace('-', "%2D");
    let r = http()
        .post(format!("{}/oauth/token", srv.base_url))
        .header(
            "authorization",
            format!("Basic {}", STANDARD.encode(encoded)),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    srv.shutdown().await;
}

#[tokio::test]
async fn wrong_secret_is_401_invalid_client_without_echo() {
    let srv = start().await;
    let wrong = "Zq8wrongSecretValue1234567890abcd";
    let r = post_json(
        &srv,
        "/oauth/token",
        &json!({"grant_type":"client_credentials","client_id":CONF_ID,"client_secret":wrong}),
    )
    .await;
    assert_eq!(r.status(), 401);
    let body = r.text().await.unwrap();
    assert!(!body.contains(wrong), "the wrong secret is not echoed");
    let v: Value = serde_json::from_str(&body).unwrap();
    let e = assert_errors(&v, 401);
    assert_eq!(e["meta"]["error"], "invalid_client");

    // With Basic, RFC 6749 5.2 asks for WWW-Authenticate.
    let r = http()
        .post(format!("{}/oauth/token", srv.base_url))
        .header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("{CONF_ID}:{wrong}"))),
        )
        .json(&json!({"grant_type":"client_credentials"}))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("www-authenticate").is_some());
    expect_error(r, 401, "invalid_client").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn unknown_client_is_401() {
    let srv = start().await;
    let r = post_json(
        &srv,
        "/oauth/token",
        &json!({"grant_type":"client_credentials","client_id":"nobody","client_secret":"whatever-secret-123"}),
    )
    .await;
    expect_error(r, 401, "invalid_client").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn two_auth_methods_are_refused() {
    let srv = start().await;
    let r = http()
        .post(format!("{}/oauth/token", srv.base_url))
        .header("authorization", format!("Basic {}", STANDARD.encode(format!("{CONF_ID}:{CONF_SECRET}"))))
        .json(&json!({"grant_type":"client_credentials","client_id":CONF_ID,"client_secret":CONF_SECRET}))
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_request").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn scope_outside_the_allow_list_is_invalid_scope() {
    let srv = start().await;
    for scope in ["apps", "no-such-scope", "user_default admin_classic"] {
        let r = post_json(
            &srv,
            "/oauth/token",
            &json!({"grant_type":"client_credentials","client_id":CONF_ID,"client_secret":CONF_SECRET,"scope":scope}),
        )
        .await;
        expect_error(r, 400, "invalid_scope").await;
    }
    srv.shutdown().await;
}

#[tokio::test]
async fn grant_not_allowed_for_client_is_401_oauth_14() {
    let srv = start().await;
    let r = post_json(
        &srv,
        "/oauth/token",
        &json!({"grant_type":"urn:qlik:oauth:user-impersonation","client_id":CONF_ID,"client_secret":CONF_SECRET,
                "user_lookup":{"field":"subject","value":"auth0|alice"}}),
    )
    .await;
    let e = expect_error(r, 401, "unauthorized_client").await;
    assert_eq!(e["code"], "OAUTH-14");
    // A public client cannot use client_credentials at all.
    let r = post_json(
        &srv,
        "/oauth/token",
        &json!({"grant_type":"client_credentials","client_id":PUBLIC_ID}),
    )
    .await;
    expect_error(r, 401, "invalid_client").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn unsupported_and_missing_grant_type() {
    let srv = start().await;
    let r = post_json(
        &srv,
        "/oauth/token",
        &json!({"grant_type":"password","client_id":CONF_ID}),
    )
    .await;
    expect_error(r, 400, "unsupported_grant_type").await;
    let r = post_json(
        &srv,
        "/oauth/token",
        &json!({"client_id":CONF_ID,"client_secret":CONF_SECRET}),
    )
    .await;
    expect_error(r, 400, "invalid_request").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn malformed_bodies_are_400_envelopes() {
    let srv = start().await;
    let cases: [(&str, &str); 6] = [
        ("application/json", "{\"grant_type\":"),
        ("application/json", "[1,2]"),
        (
            "application/json",
            "{\"grant_type\":\"client_credentials\",\"client_id\":7}",
        ),
        ("application/json", "{\"code\":\"a\",\"code\":\"b\"}"),
        (
            "application/x-www-form-urlencoded",
            "grant_type=client_credentials&grant_type=client_credentials",
        ),
        ("application/x-www-form-urlencoded", "grant_type=%FF%FE"),
    ];
    for (ct, body) in cases {
        let r = http()
            .post(format!("{}/oauth/token", srv.base_url))
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap();
        expect_error(r, 400, "invalid_request").await;
    }
    srv.shutdown().await;
}

#[tokio::test]
async fn code_flow_public_client_with_refresh() {
    let srv = start().await;
    let v = public_tokens(&srv).await;
    assert_eq!(v["scope"], "user_default offline_access");
    assert!(v["refresh_token"].as_str().is_some_and(|r| r.len() >= 43));
    assert!(v["auth_time"].as_u64().is_some());
    srv.shutdown().await;
}

#[tokio::test]
async fn code_without_offline_access_gets_no_refresh_token() {
    let srv = start().await;
    let (code, verifier) = get_code(&srv, PUBLIC_ID, PUBLIC_REDIRECT, "user_default").await;
    let r = post_json(
        &srv,
        "/oauth/token",
        &code_body(PUBLIC_ID, &code, PUBLIC_REDIRECT, &verifier),
    )
    .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["scope"], "user_default");
    assert!(v.get("refresh_token").is_none());
    srv.shutdown().await;
}

#[tokio::test]
async fn code_replay_fails_and_revokes_what_it_issued() {
    let srv = start().await;
    let (code, verifier) = get_code(
        &srv,
        PUBLIC_ID,
        PUBLIC_REDIRECT,
        "user_default offline_access",
    )
    .await;
    let body = code_body(PUBLIC_ID, &code, PUBLIC_REDIRECT, &verifier);
    let first: Value = post_json(&srv, "/oauth/token", &body)
        .await
        .json()
        .await
        .unwrap();
    let at = first["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        exchange(&srv, PUBLIC_ID, &at).await.status(),
        200,
        "token works before the replay"
    );
    let e = expect_error(
        post_json(&srv, "/oauth/token", &body).await,
        401,
        "invalid_grant",
    )
    .await;
    assert_eq!(e["code"], "OAUTH-5");
    // RFC 6749 4.1.2: the tokens issued from the code are revoked.
    expect_error(exchange(&srv, PUBLIC_ID, &at).await, 401, "invalid_grant").await;
    let rt = first["refresh_token"].as_str().unwrap();
    let r = post_json(
        &srv,
        "/oauth/token",
        &json!({"grant_type":"refresh_token","refresh_token":rt}),
    )
    .await;
    expect_error(r, 401, "invalid_grant").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn code_checks_verifier_redirect_and_client() {
    let srv = start().await;
    // Malformed verifier: 400 (RFC 7636 4.1).
    let (code, verifier) = get_code(&srv, PUBLIC_ID, PUBLIC_REDIRECT, "user_default").await;
    let r = post_json(
        &srv,
        "/oauth/token",
        &code_body(PUBLIC_ID, &code, PUBLIC_REDIRECT, "short"),
    )
    .await;
    expect_error(r, 400, "invalid_request").await;
    // Another redirect_uri than at authorize: 401 invalid_grant (RFC 6749 4.1.3).
    let r = post_json(
        &srv,
        "/oauth/token",
        &code_body(PUBLIC_ID, &code, "http://localhost:8765/native", &verifier),
    )
    .await;
    expect_error(r, 401, "invalid_grant").await;
    // Another client: 401.
    let r = post_json(
        &srv,
        "/oauth/token",
        &code_body(CONSENT_ID, &code, PUBLIC_REDIRECT, &verifier),
    )
    .await;
    expect_error(r, 401, "invalid_grant").await;
    // The right request still works: those failures did not consume the code.
    let r = post_json(
        &srv,
        "/oauth/token",
        &code_body(PUBLIC_ID, &code, PUBLIC_REDIRECT, &verifier),
    )
    .await;
    assert_eq!(r.status(), 200);

    // A wrong verifier fails and burns the code.
    let (code, verifier) = get_code(&srv, PUBLIC_ID, PUBLIC_REDIRECT, "user_default").await;
    let (other, _) = pkce::pair();
    let r = post_json(
        &srv,
        "/oauth/token",
        &code_body(PUBLIC_ID, &code, PUBLIC_REDIRECT, &other),
    )
    .await;
    expect_error(r, 401, "invalid_grant").await;
    let r = post_json(
        &srv,
        "/oauth/token",
        &code_body(PUBLIC_ID, &code, PUBLIC_REDIRECT, &verifier),
    )
    .await;
    expect_error(r, 401, "invalid_grant").await;
    // A made-up code.
    let r = post_json(
        &srv,
        "/oauth/token",
        &code_body(PUBLIC_ID, "made-up", PUBLIC_REDIRECT, &verifier),
    )
    .await;
    expect_error(r, 401, "invalid_grant").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn code_scope_parameter_is_ignored_and_never_widens() {
    let srv = start().await;
    let (code, verifier) = get_code(&srv, PUBLIC_ID, PUBLIC_REDIRECT, "user_default").await;
    let mut body = code_body(PUBLIC_ID, &code, PUBLIC_REDIRECT, &verifier);
    body["scope"] = json!("user_default apps:read offline_access");
    let v: Value = post_json(&srv, "/oauth/token", &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["scope"], "user_default");
    assert!(v.get("refresh_token").is_none());
    srv.shutdown().await;
}

#[tokio::test]
async fn confidential_client_must_authenticate_for_code() {
    let srv = start().await;
    let (code, verifier) =
        get_code(&srv, CONF_ID, CONF_REDIRECT, "user_default offline_access").await;
    let body = code_body(CONF_ID, &code, CONF_REDIRECT, &verifier);
    expect_error(
        post_json(&srv, "/oauth/token", &body).await,
        401,
        "invalid_client",
    )
    .await;
    let r = http()
        .post(format!("{}/oauth/token", srv.base_url))
        .header(
            "authorization",
            format!(
                "Basic {}",
                STANDARD.encode(format!("{CONF_ID}:{CONF_SECRET}"))
            ),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    // [API] refreshes with {grant_type, refresh_token, client_secret} and no client_id.
    let r = post_json(
        &srv,
        "/oauth/token",
        &json!({"grant_type":"refresh_token","refresh_token":v["refresh_token"],"client_secret":CONF_SECRET}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v2: Value = r.json().await.unwrap();
    // Without the secret, a confidential client's refresh fails.
    let r = post_json(
        &srv,
        "/oauth/token",
        &json!({"grant_type":"refresh_token","refresh_token":v2["refresh_token"]}),
    )
    .await;
    expect_error(r, 401, "invalid_client").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let srv = start().await;
    let v = public_tokens(&srv).await;
    let rt1 = v["refresh_token"].as_str().unwrap().to_owned();
    let r = post_json(
        &srv,
        "/oauth/token",
        &json!({"grant_type":"refresh_token","refresh_token":rt1}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let v2: Value = r.json().await.unwrap();
    let rt2 = v2["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2, "always rotated");
    assert_eq!(v2["scope"], "user_default offline_access");
    // Reuse of the old one (RFC 9700 4.14.2): refused, and the new one dies with it.
    let r = post_json(
        &srv,
        "/oauth/token",
        &json!({"grant_type":"refresh_token","refresh_token":rt1}),
    )
    .await;
    expect_error(r, 401, "invalid_grant").await;
    let r = post_json(
        &srv,
        "/oauth/token",
        &json!({"grant_type":"refresh_token","refresh_token":rt2}),
    )
    .await;
    expect_error(r, 401, "invalid_grant").await;
    let at2 = v2["access_token"].as_str().unwrap();
    expect_error(exchange(&srv, PUBLIC_ID, at2).await, 401, "invalid_grant").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn refresh_scope_may_narrow_never_widen() {
    let srv = start().await;
    let v = public_tokens(&srv).await;
    let r = post_json(
        &srv,
        "/oauth/token",
        &json!({"grant_type":"refresh_token","refresh_token":v["refresh_token"],"scope":"apps:read"}),
    )
    .await;
    expect_error(r, 400, "invalid_scope").await;
    let r = post_json(
        &srv,
        "/oauth/token",
        &json!({"grant_type":"refresh_token","refresh_token":v["refresh_token"],"scope":"user_default"}),
    )
    .await;
    let v2: Value = r.json().await.unwrap();
    assert_eq!(v2["scope"], "user_default");
    // Narrowing the access token keeps the grant: still a refresh token (RFC 6749 6).
    assert!(v2["refresh_token"].as_str().is_some());
    srv.shutdown().await;
}

#[tokio::test]
async fn refresh_by_another_client_is_refused() {
    let srv = start().await;
    let v = public_tokens(&srv).await;
    let r = post_json(
        &srv,
        "/oauth/token",
        &json!({"grant_type":"refresh_token","refresh_token":v["refresh_token"],"client_id":CONSENT_ID}),
    )
    .await;
    expect_error(r, 401, "invalid_grant").await;
    let r = post_json(
        &srv,
        "/oauth/token",
        &json!({"grant_type":"refresh_token","refresh_token":"nope"}),
    )
    .await;
    expect_error(r, 401, "invalid_grant").await;
    let r = post_json(&srv, "/oauth/token", &json!({"grant_type":"refresh_token"})).await;
    expect_error(r, 400, "invalid_request").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn token_exchange_rules() {
    let srv = start().await;
    let v = public_tokens(&srv).await;
    let at = v["access_token"].as_str().unwrap();
    let r = exchange(&srv, PUBLIC_ID, at).await;
    assert_eq!(r.status(), 200, "[API] needs exactly 200");
    let x: Value = r.json().await.unwrap();
    assert_eq!(
        x["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    assert_eq!(x["token_type"], "bearer");
    assert!(x.get("refresh_token").is_none());
    assert_eq!(
        x["scope"], "user_default",
        "never wider than the subject, no offline_access"
    );
    assert!(x["expires_in"].as_u64().unwrap() <= 21600);
    // An exchanged token is not a subject again.
    expect_error(
        exchange(&srv, PUBLIC_ID, x["access_token"].as_str().unwrap()).await,
        401,
        "invalid_grant",
    )
    .await;
    // client_id must be the subject's client (notes ambiguity 11).
    expect_error(exchange(&srv, CONSENT_ID, at).await, 401, "invalid_grant").await;
    // An M2M token cannot be exchanged (observed 401 OAUTH-5).
    let cc = cc_token(&srv).await;
    let e = expect_error(
        exchange(&srv, CONF_ID, cc["access_token"].as_str().unwrap()).await,
        401,
        "invalid_grant",
    )
    .await;
    assert_eq!(e["code"], "OAUTH-5");
    assert_eq!(
        e["detail"],
        "Cannot perform exchange with given Oauth configuration."
    );
    // A bad subject is 401, a bad type or purpose 400.
    expect_error(
        exchange(&srv, PUBLIC_ID, "not-a-token").await,
        401,
        "invalid_grant",
    )
    .await;
    let mut body = json!({"grant_type":"urn:ietf:params:oauth:grant-type:token-exchange","client_id":PUBLIC_ID,
        "subject_token":at,"subject_token_type":"urn:ietf:params:oauth:token-type:id_token","purpose":"websocket"});
    expect_error(
        post_json(&srv, "/oauth/token", &body).await,
        400,
        "invalid_request",
    )
    .await;
    body["subject_token_type"] = json!("urn:ietf:params:oauth:token-type:access_token");
    body["purpose"] = json!("everything");
    expect_error(
        post_json(&srv, "/oauth/token", &body).await,
        400,
        "invalid_request",
    )
    .await;
    srv.shutdown().await;
}

#[tokio::test]
async fn token_exchange_needs_the_client_flag() {
    let srv = start_with(|f| f["clients"][1]["token_exchange"] = json!(false)).await;
    let v = public_tokens(&srv).await;
    let e = expect_error(
        exchange(&srv, PUBLIC_ID, v["access_token"].as_str().unwrap()).await,
        401,
        "invalid_grant",
    )
    .await;
    assert_eq!(e["code"], "OAUTH-5");
    srv.shutdown().await;
}

fn impersonate(field: &str, value: &str) -> Value {
    json!({"grant_type":"urn:qlik:oauth:user-impersonation","client_id":IMP_ID,"client_secret":IMP_SECRET,
           "scope":"user_default","user_lookup":{"field":field,"value":value}})
}

#[tokio::test]
async fn impersonation_rules() {
    let srv = start().await;
    let r = post_json(&srv, "/oauth/token", &impersonate("subject", "auth0|alice")).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert!(v.get("refresh_token").is_none());
    assert_eq!(v["scope"], "user_default");
    let r = post_json(&srv, "/oauth/token", &impersonate("userId", "user-bob")).await;
    assert_eq!(r.status(), 200);
    // Form bodies use user_lookup[field] / user_lookup[value] (notes ambiguity 12).
    let r = post_form(
        &srv,
        "/oauth/token",
        &[
            ("grant_type", "urn:qlik:oauth:user-impersonation"),
            ("client_id", IMP_ID),
            ("client_secret", IMP_SECRET),
            ("user_lookup[field]", "subject"),
            ("user_lookup[value]", "auth0|bob"),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    // Disabled user: 403; unknown user: 400; bad field: 400; missing lookup: 400.
    expect_error(
        post_json(&srv, "/oauth/token", &impersonate("subject", "auth0|dave")).await,
        403,
        "access_denied",
    )
    .await;
    expect_error(
        post_json(
            &srv,
            "/oauth/token",
            &impersonate("subject", "auth0|nobody"),
        )
        .await,
        400,
        "invalid_request",
    )
    .await;
    expect_error(
        post_json(
            &srv,
            "/oauth/token",
            &impersonate("email", "alice@example.com"),
        )
        .await,
        400,
        "invalid_request",
    )
    .await;
    let r = post_json(
        &srv,
        "/oauth/token",
        &json!({"grant_type":"urn:qlik:oauth:user-impersonation","client_id":IMP_ID,"client_secret":IMP_SECRET}),
    )
    .await;
    expect_error(r, 400, "invalid_request").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn impersonation_with_a_private_key_jwt() {
    let srv = start().await;
    let a = assertion(
        "assertion-es384.pem",
        Algorithm::ES384,
        Some("assertion-es384"),
        assertion_claims(&srv),
    );
    let r = post_json(
        &srv,
        "/oauth/token",
        &json!({"grant_type":"urn:qlik:oauth:user-impersonation","client_id":ASSERT_ID,
                "client_assertion_type":"urn:ietf:params:oauth:client-assertion-type:jwt-bearer","client_assertion":a,
                "user_lookup":{"field":"subject","value":"auth0|alice"}}),
    )
    .await;
    assert_eq!(r.status(), 200);
    srv.shutdown().await;
}

async fn cc_with_assertion(srv: &qoauth_reference::RunningServer, a: &str) -> reqwest::Response {
    post_form(
        srv,
        "/oauth/token",
        &[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", a),
        ],
    )
    .await
}

#[tokio::test]
async fn client_assertion_accepts_registered_keys_once() {
    let srv = start().await;
    let a = assertion(
        "assertion-es384.pem",
        Algorithm::ES384,
        Some("assertion-es384"),
        assertion_claims(&srv),
    );
    assert_eq!(cc_with_assertion(&srv, &a).await.status(), 200);
    // jti is single use (RFC 7523 3).
    expect_error(cc_with_assertion(&srv, &a).await, 401, "invalid_client").await;
    let a = assertion(
        "assertion-rs256.pem",
        Algorithm::RS256,
        Some("assertion-rs256"),
        assertion_claims(&srv),
    );
    assert_eq!(cc_with_assertion(&srv, &a).await.status(), 200);
    srv.shutdown().await;
}

#[tokio::test]
async fn client_assertion_rejections() {
    let srv = start().await;
    let t = now();
    let mut bad: Vec<(String, &str)> = Vec::new();
    let mut c = assertion_claims(&srv);
    c["aud"] = json!(format!("{}/oauth/token/", srv.base_url));
    bad.push((
        assertion(
            "assertion-es384.pem",
            Algorithm::ES384,
            Some("assertion-es384"),
            c,
        ),
        "aud with a trailing slash",
    ));
    let mut c = assertion_claims(&srv);
    c["iat"] = json!(t);
    c["exp"] = json!(t + 600);
    bad.push((
        assertion(
            "assertion-es384.pem",
            Algorithm::ES384,
            Some("assertion-es384"),
            c,
        ),
        "lifetime over 5 min",
    ));
    let mut c = assertion_claims(&srv);
    c["iat"] = json!(t - 120);
    c["exp"] = json!(t - 60);
    bad.push((
        assertion(
            "assertion-es384.pem",
            Algorithm::ES384,
            Some("assertion-es384"),
            c,
        ),
        "expired",
    ));
    let mut c = assertion_claims(&srv);
    c["sub"] = json!("someone-else");
    bad.push((
        assertion(
            "assertion-es384.pem",
            Algorithm::ES384,
            Some("assertion-es384"),
            c,
        ),
        "sub differs",
    ));
    let mut c = assertion_claims(&srv);
    c.as_object_mut().unwrap().remove("jti");
    bad.push((
        assertion(
            "assertion-es384.pem",
            Algorithm::ES384,
            Some("assertion-es384"),
            c,
        ),
        "no jti",
    ));
    bad.push((
        assertion(
            "assertion-es384.pem",
            Algorithm::ES384,
            None,
            assertion_claims(&srv),
        ),
        "no kid",
    ));
    bad.push((
        assertion(
            "unregistered-es384.pem",
            Algorithm::ES384,
            Some("assertion-es384"),
            assertion_claims(&srv),
        ),
        "unregistered key",
    ));
    bad.push((
        assertion(
            "assertion-es384.pem",
            Algorithm::ES384,
            Some("assertion-rs256"),
            assertion_claims(&srv),
        ),
        "kid of a key with another alg",
    ));
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            kid: Some("assertion-es384".into()),
            ..jsonwebtoken::Header::new(Algorithm::HS256)
        },
        &assertion_claims(&srv),
        &jsonwebtoken::EncodingKey::from_secret(b"secret"),
    )
    .unwrap();
    bad.push((hs, "HS256"));
    let none = format!(
        "{}.{}.",
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"alg":"none","kid":"assertion-es384"}"#),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(assertion_claims(&srv).to_string())
    );
    bad.push((none, "alg none"));
    for (a, why) in bad {
        let r = cc_with_assertion(&srv, &a).await;
        assert_eq!(r.status(), 401, "{why}");
        expect_error(r, 401, "invalid_client").await;
    }
    // An assertion next to a secret is two methods at once.
    let a = assertion(
        "assertion-es384.pem",
        Algorithm::ES384,
        Some("assertion-es384"),
        assertion_claims(&srv),
    );
    let r = post_form(
        &srv,
        "/oauth/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", ASSERT_ID),
            ("client_secret", "some-secret-value-1234"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &a),
        ],
    )
    .await;
    expect_error(r, 400, "invalid_request").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn token_cap_per_user_and_client_is_403() {
    let srv = start_with(|f| f["limits"]["max_tokens_per_user_client"] = json!(2)).await;
    let a = cc_token(&srv).await;
    cc_token(&srv).await;
    let r = post_json(
        &srv,
        "/oauth/token",
        &json!({"grant_type":"client_credentials","client_id":CONF_ID,"client_secret":CONF_SECRET}),
    )
    .await;
    expect_error(r, 403, "access_denied").await;
    // Revoking one frees a slot.
    let r = post_json(&srv, "/oauth/revoke", &json!({"token": a["access_token"]})).await;
    assert_eq!(r.status(), 200);
    cc_token(&srv).await;
    srv.shutdown().await;
}

#[tokio::test]
async fn revoke_unknown_and_missing_tokens() {
    let srv = start().await;
    let r = post_json(&srv, "/oauth/revoke", &json!({"token":"never-issued"})).await;
    assert_eq!(r.status(), 200, "RFC 7009 2.2");
    assert_eq!(r.text().await.unwrap(), "{}");
    let r = post_json(
        &srv,
        "/oauth/revoke",
        &json!({"token_type_hint":"access_token"}),
    )
    .await;
    expect_error(r, 400, "invalid_request").await;
    let r = post_form(
        &srv,
        "/oauth/revoke",
        &[("token", "x"), ("token_type_hint", "refresh_token")],
    )
    .await;
    assert_eq!(r.status(), 200);
    srv.shutdown().await;
}

#[tokio::test]
async fn revoke_access_token_like_ts_sdk() {
    let srv = start().await;
    let v = public_tokens(&srv).await;
    let at = v["access_token"].as_str().unwrap();
    // [TS] deauthorize(): JSON body, Bearer of the same token, no client credentials.
    let r = http()
        .post(format!("{}/oauth/revoke", srv.base_url))
        .bearer_auth(at)
        .json(&json!({"token":at,"token_type_hint":"access_token"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    expect_error(exchange(&srv, PUBLIC_ID, at).await, 401, "invalid_grant").await;
    // The refresh token survives an access token revocation.
    let r = post_json(
        &srv,
        "/oauth/token",
        &json!({"grant_type":"refresh_token","refresh_token":v["refresh_token"]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    srv.shutdown().await;
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_access_tokens() {
    let srv = start().await;
    let v = public_tokens(&srv).await;
    // The hint is only a hint: a wrong one still finds the token (RFC 7009 2.1).
    let r = post_json(
        &srv,
        "/oauth/revoke",
        &json!({"token":v["refresh_token"],"token_type_hint":"access_token"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    expect_error(
        exchange(&srv, PUBLIC_ID, v["access_token"].as_str().unwrap()).await,
        401,
        "invalid_grant",
    )
    .await;
    let r = post_json(
        &srv,
        "/oauth/token",
        &json!({"grant_type":"refresh_token","refresh_token":v["refresh_token"]}),
    )
    .await;
    expect_error(r, 401, "invalid_grant").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn revoke_checks_client_credentials_when_given() {
    let srv = start().await;
    let cc = cc_token(&srv).await;
    let r = post_json(
        &srv,
        "/oauth/revoke",
        &json!({"token":cc["access_token"],"client_id":CONF_ID,"client_secret":"wrong-secret-value-123"}),
    )
    .await;
    expect_error(r, 401, "invalid_client").await;
    // Another client's token, with valid credentials: refused (RFC 7009 2.1).
    let r = post_json(
        &srv,
        "/oauth/revoke",
        &json!({"token":cc["access_token"],"client_id":IMP_ID,"client_secret":IMP_SECRET}),
    )
    .await;
    expect_error(r, 400, "unauthorized_client").await;
    let r = post_json(
        &srv,
        "/oauth/revoke",
        &json!({"token":cc["access_token"],"client_id":CONF_ID,"client_secret":CONF_SECRET}),
    )
    .await;
    assert_eq!(r.status(), 200);
    srv.shutdown().await;
}
