//! GET /oauth/authorize and the built-in identity provider, through HTTP.

use qoauth_testkit::envelope::expect_error;
use qoauth_testkit::pkce;
use qoauth_testkit::reference::*;
use qoauth_testkit::request::*;
use serde_json::json;

async fn authorize(client: &reqwest::Client, base: &str, query: &str) -> reqwest::Response {
    client
        .get(format!("{base}/oauth/authorize?{query}"))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn unknown_client_or_redirect_gets_400_and_no_redirect() {
    let srv = start().await;
    let (_, ch) = pkce::pair();
    let cases = [
        authorize_query("nobody", PUBLIC_REDIRECT, "user_default", &ch, None),
        authorize_query(
            PUBLIC_ID,
            "http://127.0.0.1:8765/callback/",
            "user_default",
            &ch,
            None,
        ),
        authorize_query(
            PUBLIC_ID,
            "https://evil.example/cb",
            "user_default",
            &ch,
            None,
        ),
        authorize_query(PUBLIC_ID, CONF_REDIRECT, "user_default", &ch, None),
        format!("response_type=code&client_id={PUBLIC_ID}&state=x"),
        format!(
            "response_type=code&redirect_uri={}&state=x",
            enc(PUBLIC_REDIRECT)
        ),
    ];
    for q in cases {
        let r = authorize(&http(), &srv.base_url, &q).await;
        assert!(
            r.headers().get("location").is_none(),
            "never a redirect for {q}"
        );
        expect_error(
            r,
            400,
            if q.contains("nobody") {
                "invalid_client"
            } else {
                "invalid_request"
            },
        )
        .await;
    }
    let r = authorize(
        &http(),
        &srv.base_url,
        &authorize_query(
            PUBLIC_ID,
            "https://evil.example/cb",
            "user_default",
            &ch,
            None,
        ),
    )
    .await;
    let e = expect_error(r, 400, "invalid_request").await;
    assert_eq!(e["code"], "OAUTH-1");
    srv.shutdown().await;
}

/// Asserts an error redirect to the client with the spec's parameters.
fn assert_error_redirect(r: &reqwest::Response, redirect: &str, error: &str) {
    assert_eq!(r.status(), 302);
    assert!(
        location(r).starts_with(&format!("{redirect}?")),
        "to the client: {}",
        location(r)
    );
    let p = location_params(r);
    assert_eq!(param(&p, "error").as_deref(), Some(error), "{p:?}");
    assert!(param(&p, "error_code").is_some_and(|c| !c.is_empty()));
    assert!(param(&p, "error_detail").is_some_and(|c| !c.is_empty()));
    assert_eq!(param(&p, "state").as_deref(), Some("st4te"));
}

#[tokio::test]
async fn other_errors_redirect_with_error_code_detail_and_state() {
    let srv = start().await;
    let (_, ch) = pkce::pair();
    let base = authorize_query(
        PUBLIC_ID,
        PUBLIC_REDIRECT,
        "user_default",
        &ch,
        Some("alice@example.com"),
    );
    let cases = [
        (
            base.replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
        (base.replace("response_type=code&", ""), "invalid_request"),
        (
            base.replace("code_challenge_method=S256", "code_challenge_method=plain"),
            "invalid_request",
        ),
        (
            base.replace("&code_challenge_method=S256", ""),
            "invalid_request",
        ),
        (
            base.replace(&format!("code_challenge={ch}"), "code_challenge=short"),
            "invalid_request",
        ),
        (
            base.replace("scope=user_default", "scope=admin_classic"),
            "invalid_scope",
        ),
        (
            base.replace("scope=user_default", "scope=unknown-scope"),
            "invalid_scope",
        ),
        (format!("{base}&prompt=none+login"), "invalid_request"),
        (format!("{base}&prompt=sometimes"), "invalid_request"),
        (format!("{base}&max_age=-5"), "invalid_request"),
        // A repeated parameter (RFC 6749 3.1), with client and redirect_uri unambiguous.
        (format!("{base}&scope=apps:read"), "invalid_request"),
    ];
    for (q, error) in cases {
        let r = authorize(&http(), &srv.base_url, &q).await;
        assert_error_redirect(&r, PUBLIC_REDIRECT, error);
    }
    // A repeated client_id leaves nothing to trust: 400, no redirect.
    let r = authorize(
        &http(),
        &srv.base_url,
        &format!("{base}&client_id={PUBLIC_ID}"),
    )
    .await;
    expect_error(r, 400, "invalid_request").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn raw_unencoded_queries_like_real_clients() {
    let srv = start().await;
    let (verifier, ch) = pkce::pair();
    // [API]/[TS]: sorted keys, raw https://, a raw space between scopes; [PY]: `+`.
    for scope in [
        "user_default%20offline_access",
        "user_default+offline_access",
    ] {
        let q = format!(
            "client_id={PUBLIC_ID}&code_challenge={ch}&code_challenge_method=S256&login_hint=alice@example.com&redirect_uri={PUBLIC_REDIRECT}&response_type=code&scope={scope}&state=st4te"
        );
        let r = authorize(&http(), &srv.base_url, &q).await;
        assert_eq!(r.status(), 302);
        let p = location_params(&r);
        let code = param(&p, "code").expect("a code");
        let t = post_json(
            &srv,
            "/oauth/token",
            &code_body(PUBLIC_ID, &code, PUBLIC_REDIRECT, &verifier),
        )
        .await;
        let v: serde_json::Value = t.json().await.unwrap();
        assert_eq!(v["scope"], "user_default offline_access");
    }
    srv.shutdown().await;
}

#[tokio::test]
async fn login_page_then_session_cookie() {
    let srv = start().await;
    let c = http_with_cookies();
    let (verifier, ch) = pkce::pair();
    let q = authorize_query(PUBLIC_ID, PUBLIC_REDIRECT, "user_default", &ch, None);
    let r = authorize(&c, &srv.base_url, &q).await;
    assert_eq!(r.status(), 302);
    let login = location(&r);
    assert!(
        login.starts_with("/oauth/login?"),
        "to the login page: {login}"
    );
    let page = c
        .get(format!("{}{login}", srv.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("name=\"login\"") && html.contains("name=\"authorize_query\""));
    // An unknown user stays on the form.
    let r = c
        .post(format!("{}/oauth/login", srv.base_url))
        .form(&[
            ("authorize_query", q.as_str()),
            ("login", "mallory@example.com"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .post(format!("{}/oauth/login", srv.base_url))
        .form(&[
            ("authorize_query", q.as_str()),
            ("login", "bob@example.com"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    let p = location_params(&r);
    let code = param(&p, "code").unwrap();
    let t = post_json(
        &srv,
        "/oauth/token",
        &code_body(PUBLIC_ID, &code, PUBLIC_REDIRECT, &verifier),
    )
    .await;
    assert_eq!(t.status(), 200);
    // The session signs the next request in without a form.
    let (_, ch2) = pkce::pair();
    let r = authorize(
        &c,
        &srv.base_url,
        &authorize_query(PUBLIC_ID, PUBLIC_REDIRECT, "user_default", &ch2, None),
    )
    .await;
    assert!(
        param(&location_params(&r), "code").is_some(),
        "code straight away"
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn login_hint_auto_login_and_its_switch() {
    let srv = start().await;
    let (_, ch) = pkce::pair();
    let r = authorize(
        &http(),
        &srv.base_url,
        &authorize_query(
            PUBLIC_ID,
            PUBLIC_REDIRECT,
            "user_default",
            &ch,
            Some("auth0|bob"),
        ),
    )
    .await;
    assert!(param(&location_params(&r), "code").is_some());
    assert!(
        r.headers().get("set-cookie").is_some(),
        "a session is created"
    );
    // A disabled user cannot sign in.
    let r = authorize(
        &http(),
        &srv.base_url,
        &authorize_query(
            PUBLIC_ID,
            PUBLIC_REDIRECT,
            "user_default",
            &ch,
            Some("dave@example.com"),
        ),
    )
    .await;
    assert_error_redirect(&r, PUBLIC_REDIRECT, "access_denied");
    srv.shutdown().await;

    let srv = start_with(|f| f["idp"]["auto_login_hint"] = json!(false)).await;
    let r = authorize(
        &http(),
        &srv.base_url,
        &authorize_query(
            PUBLIC_ID,
            PUBLIC_REDIRECT,
            "user_default",
            &ch,
            Some("alice@example.com"),
        ),
    )
    .await;
    assert!(
        location(&r).starts_with("/oauth/login?"),
        "the fixture turned auto login off"
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn prompt_none_without_session_is_login_required() {
    let srv = start().await;
    let (_, ch) = pkce::pair();
    let q = format!(
        "{}&prompt=none",
        authorize_query(PUBLIC_ID, PUBLIC_REDIRECT, "user_default", &ch, None)
    );
    let r = authorize(&http(), &srv.base_url, &q).await;
    assert_error_redirect(&r, PUBLIC_REDIRECT, "login_required");
    srv.shutdown().await;
}

#[tokio::test]
async fn prompt_none_with_session_and_prompt_login_and_max_age() {
    let srv = start().await;
    let c = http_with_cookies();
    let (_, ch) = pkce::pair();
    let hinted = authorize_query(
        PUBLIC_ID,
        PUBLIC_REDIRECT,
        "user_default",
        &ch,
        Some("alice@example.com"),
    );
    let plain = authorize_query(PUBLIC_ID, PUBLIC_REDIRECT, "user_default", &ch, None);
    assert_eq!(authorize(&c, &srv.base_url, &hinted).await.status(), 302);
    // prompt=none with a session issues a code silently.
    let r = authorize(&c, &srv.base_url, &format!("{plain}&prompt=none")).await;
    assert!(param(&location_params(&r), "code").is_some());
    // prompt=login forces the login page despite the session.
    let r = authorize(&c, &srv.base_url, &format!("{plain}&prompt=login")).await;
    assert!(location(&r).starts_with("/oauth/login?"));
    // max_age=0: the last authentication is too old, so log in again...
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let r = authorize(&c, &srv.base_url, &format!("{plain}&max_age=0")).await;
    assert!(location(&r).starts_with("/oauth/login?"));
    // ...or, with prompt=none, login_required.
    let r = authorize(&c, &srv.base_url, &format!("{plain}&max_age=0&prompt=none")).await;
    assert_error_redirect(&r, PUBLIC_REDIRECT, "login_required");
    // A generous max_age is satisfied by the session.
    let r = authorize(&c, &srv.base_url, &format!("{plain}&max_age=3600")).await;
    assert!(param(&location_params(&r), "code").is_some());
    srv.shutdown().await;
}

#[tokio::test]
async fn consent_required_clients_ask_once() {
    let srv = start().await;
    let c = http_with_cookies();
    let (verifier, ch) = pkce::pair();
    let q = authorize_query(
        CONSENT_ID,
        CONSENT_REDIRECT,
        "user_default",
        &ch,
        Some("alice@example.com"),
    );
    // prompt=none before consent: consent_required.
    let r = authorize(&c, &srv.base_url, &format!("{q}&prompt=none")).await;
    assert_error_redirect(&r, CONSENT_REDIRECT, "login_required");
    let r = authorize(&c, &srv.base_url, &q).await;
    let consent = location(&r);
    assert!(consent.starts_with("/oauth/consent?"), "{consent}");
    let r = authorize(
        &c,
        &srv.base_url,
        &format!(
            "{}&prompt=none",
            authorize_query(CONSENT_ID, CONSENT_REDIRECT, "user_default", &ch, None)
        ),
    )
    .await;
    assert_error_redirect(&r, CONSENT_REDIRECT, "consent_required");
    let page = c
        .get(format!("{}{consent}", srv.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    // A forged form (wrong CSRF token) is refused.
    let r = c
        .post(format!("{}/oauth/consent", srv.base_url))
        .form(&[
            ("authorize_query", q.as_str()),
            ("csrf", "forged"),
            ("decision", "allow"),
        ])
        .send()
        .await
        .unwrap();
    expect_error(r, 403, "access_denied").await;
    let r = c
        .post(format!("{}/oauth/consent", srv.base_url))
        .form(&[
            ("authorize_query", q.as_str()),
            ("csrf", csrf.as_str()),
            ("decision", "allow"),
        ])
        .send()
        .await
        .unwrap();
    let code = param(&location_params(&r), "code").expect("code after consent");
    let t = post_json(
        &srv,
        "/oauth/token",
        &code_body(CONSENT_ID, &code, CONSENT_REDIRECT, &verifier),
    )
    .await;
    assert_eq!(t.status(), 200);
    // Consent is remembered for the session...
    let r = authorize(&c, &srv.base_url, &q).await;
    assert!(param(&location_params(&r), "code").is_some());
    // ...unless prompt=consent asks again.
    let r = authorize(&c, &srv.base_url, &format!("{q}&prompt=consent")).await;
    assert!(location(&r).starts_with("/oauth/consent?"));
    // Denying is access_denied.
    let r = c
        .post(format!("{}/oauth/consent", srv.base_url))
        .form(&[
            ("authorize_query", q.as_str()),
            ("csrf", csrf.as_str()),
            ("decision", "deny"),
        ])
        .send()
        .await
        .unwrap();
    assert_error_redirect(&r, CONSENT_REDIRECT, "access_denied");
    srv.shutdown().await;
}

#[tokio::test]
async fn codes_are_short_lived() {
    let srv = start_with(|f| f["lifetimes"]["code_seconds"] = json!(1)).await;
    let (code, verifier) = get_code(&srv, PUBLIC_ID, PUBLIC_REDIRECT, "user_default").await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = post_json(
        &srv,
        "/oauth/token",
        &code_body(PUBLIC_ID, &code, PUBLIC_REDIRECT, &verifier),
    )
    .await;
    expect_error(r, 401, "invalid_grant").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn a_replay_after_the_code_expired_still_revokes() {
    let srv = start_with(|f| f["lifetimes"]["code_seconds"] = json!(1)).await;
    let (code, verifier) = get_code(
        &srv,
        PUBLIC_ID,
        PUBLIC_REDIRECT,
        "user_default offline_access",
    )
    .await;
    let body = code_body(PUBLIC_ID, &code, PUBLIC_REDIRECT, &verifier);
    let t: serde_json::Value = post_json(&srv, "/oauth/token", &body)
        .await
        .json()
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    expect_error(
        post_json(&srv, "/oauth/token", &body).await,
        401,
        "invalid_grant",
    )
    .await;
    let r = post_json(
        &srv,
        "/oauth/token",
        &json!({"grant_type":"refresh_token","refresh_token":t["refresh_token"]}),
    )
    .await;
    expect_error(r, 401, "invalid_grant").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn login_form_errors_are_envelopes() {
    let srv = start().await;
    let r = http()
        .post(format!("{}/oauth/login", srv.base_url))
        .json(&json!({"login":"alice"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 415, "invalid_request").await;
    let r = http()
        .post(format!("{}/oauth/login", srv.base_url))
        .form(&[("login", "alice@example.com")])
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_request").await;
    srv.shutdown().await;
}
