//! Cross-cutting rules: fixture validation, TLS, body limit, 404/405/415 envelopes, rate
//! limits, discovery, purging, the in-process router.

use qoauth_reference::{spawn_with, Fixture, Tls};
use qoauth_testkit::envelope::expect_error;
use qoauth_testkit::reference::*;
use qoauth_testkit::request::*;
use qoauth_testkit::server::loopback;
use serde_json::{json, Value};

fn fixture_error(edit: impl FnOnce(&mut Value)) -> (String, String) {
    let mut v: Value = serde_json::from_str(Fixture::default_json()).unwrap();
    edit(&mut v);
    let e = Fixture::from_json(&v.to_string()).expect_err("the fixture must be refused");
    (e.path().to_owned(), e.to_string())
}

#[test]
fn fixture_errors_name_the_field() {
    type Edit = Box<dyn FnOnce(&mut Value)>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|f| f["clients"][1]["redirect_uris"][1] = json!("http://example.com/cb")),
            "clients[1].redirect_uris[1]",
        ),
        (
            Box::new(|f| f["clients"][0]["allowed_scopes"][2] = json!("undeclared")),
            "clients[0].allowed_scopes[2]",
        ),
        (
            Box::new(|f| f["clients"][2]["client_id"] = json!("web-confidential")),
            "clients[2].client_id",
        ),
        (
            Box::new(|f| f["clients"][4]["public_keys"][1]["n"] = json!("AQAB")),
            "clients[4].public_keys[1].n",
        ),
        (
            Box::new(|f| f["clients"][4]["public_keys"][0]["alg"] = json!("HS256")),
            "clients[4].public_keys[0].alg",
        ),
        (
            Box::new(|f| f["clients"][4]["public_keys"][1]["n"] = json!("")),
            "clients[4].public_keys[1].n",
        ),
        (
            Box::new(|f| f["clients"][4]["public_keys"][0]["x"] = json!("")),
            "clients[4].public_keys[0].x",
        ),
        (
            Box::new(|f| f["clients"][0]["secrets"] = json!([])),
            "clients[0].secrets",
        ),
        (
            Box::new(|f| f["clients"][1]["secrets"] = json!(["a-public-client-secret"])),
            "clients[1].secrets",
        ),
        (
            Box::new(|f| f["clients"][3]["consent_method"] = json!("required")),
            "clients[3].consent_method",
        ),
        (
            Box::new(|f| f["users"][1]["email"] = json!("alice@example.com")),
            "users[1].email",
        ),
        (
            Box::new(|f| f["limits"]["max_body_bytes"] = json!(0)),
            "limits.max_body_bytes",
        ),
        (
            Box::new(|f| f["tenant"]["issuer"] = json!("https://t.example/")),
            "tenant.issuer",
        ),
        (
            Box::new(|f| f["scopes"][0] = json!("has space")),
            "scopes[0]",
        ),
        (
            Box::new(|f| f["clients"][5]["rate_limit"]["tier2"] = json!(0)),
            "clients[5].rate_limit.tier2",
        ),
        (
            Box::new(|f| f["clients"][7]["max_tokens_per_user"] = json!(0)),
            "clients[7].max_tokens_per_user",
        ),
        // Shape errors come from deserialisation, still with the path.
        (
            Box::new(|f| f["clients"][0]["app_type"] = json!("desktop")),
            "clients[0].app_type",
        ),
        (
            Box::new(|f| f["lifetimes"]["code_seconds"] = json!("60")),
            "lifetimes.code_seconds",
        ),
        (
            Box::new(|f| f["clients"][0]["typo_field"] = json!(1)),
            "clients[0]",
        ),
        (
            Box::new(|f| {
                f["idp"].as_object_mut().unwrap().remove("auto_login_hint");
            }),
            "idp",
        ),
    ];
    for (edit, path) in cases {
        let (got, msg) = fixture_error(edit);
        assert!(
            got.starts_with(path),
            "expected path {path}, got {got}: {msg}"
        );
        assert!(msg.contains(path), "the message names {path}: {msg}");
    }
    let e = Fixture::from_json("{ not json").unwrap_err();
    assert!(e.to_string().contains("not valid JSON"), "{e}");
    let e = Fixture::from_path(std::path::Path::new("/nonexistent/fixture.json")).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/fixture.json"), "{e}");
    // Optional additions are accepted.
    let mut v: Value = serde_json::from_str(Fixture::default_json()).unwrap();
    v["limits"]["purge_interval_seconds"] = json!(5);
    v["tenant"]["issuer"] = json!("https://reference.eu.qlikcloud.com");
    assert!(Fixture::from_json(&v.to_string()).is_ok());
    // The shipped file loads from disk too.
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/default.json");
    assert_eq!(Fixture::from_path(&p).unwrap().spec().clients.len(), 9);
}

#[tokio::test]
async fn tls_with_a_generated_certificate() {
    let srv = spawn_with(Fixture::default_fixture(), loopback(), Tls::Generated)
        .await
        .unwrap();
    assert!(srv.base_url.starts_with("https://127.0.0.1:"));
    let pem = srv.tls_cert_pem.clone().expect("the generated certificate");
    let c = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let v: Value = c
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            srv.base_url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["issuer"],
        json!(srv.base_url),
        "the issuer follows the scheme"
    );
    let r = c
        .post(format!("{}/oauth/token", srv.base_url))
        .json(&json!({"grant_type":"client_credentials","client_id":CONF_ID,"client_secret":CONF_SECRET}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Plain HTTP on the TLS port gets no answer.
    let plain = http()
        .get(srv.base_url.replace("https", "http"))
        .send()
        .await;
    assert!(plain.map(|r| r.status() != 200).unwrap_or(true));
    srv.shutdown().await;
}

#[tokio::test]
async fn body_limit_is_413_with_or_without_content_length() {
    let srv = start_with(|f| f["limits"]["max_body_bytes"] = json!(1024)).await;
    let big = format!("grant_type=client_credentials&pad={}", "a".repeat(2000));
    let r = http()
        .post(format!("{}/oauth/token", srv.base_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    // The unread rest of the body makes the connection unusable: it must be announced closed.
    assert_eq!(
        r.headers().get("connection").map(|v| v.as_bytes()),
        Some(&b"close"[..])
    );
    expect_error(r, 413, "invalid_request").await;
    // Chunked, so no Content-Length to check up front.
    let status = raw_chunked_post(srv.local_addr, "/oauth/revoke", big.as_bytes()).await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    assert!(status.contains("HTTP-413"), "an envelope: {status}");
    // Under the limit is fine.
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
    srv.shutdown().await;
}

/// Sends a chunked POST over a raw socket and returns the whole response text.
async fn raw_chunked_post(addr: std::net::SocketAddr, path: &str, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for c in body.chunks(256) {
        req.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        req.extend_from_slice(c);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    // The server may answer and close before reading everything; that is fine.
    let _ = s.write_all(&req).await;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn method_path_and_media_type_errors_are_envelopes() {
    let srv = start().await;
    let r = http()
        .get(format!("{}/oauth/token", srv.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["allow"], "POST, OPTIONS");
    expect_error(r, 405, "invalid_request").await;
    let r = http()
        .delete(format!("{}/oauth/authorize", srv.base_url))
        .send()
        .await
        .unwrap();
    expect_error(r, 405, "invalid_request").await;
    let r = http()
        .put(format!("{}/oauth/revoke", srv.base_url))
        .send()
        .await
        .unwrap();
    expect_error(r, 405, "invalid_request").await;
    let r = http()
        .get(format!("{}/oauth/nothing", srv.base_url))
        .send()
        .await
        .unwrap();
    let e = expect_error(r, 404, "invalid_request").await;
    assert_eq!(e["code"], "HTTP-404");
    for ct in [
        Some("text/plain"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let mut b = http()
            .post(format!("{}/oauth/token", srv.base_url))
            .body("grant_type=client_credentials");
        if let Some(ct) = ct {
            b = b.header("content-type", ct);
        }
        let e = expect_error(b.send().await.unwrap(), 415, "invalid_request").await;
        assert_eq!(e["code"], "HTTP-415");
    }
    let r = http()
        .post(format!("{}/oauth/revoke", srv.base_url))
        .header("content-type", "text/xml")
        .body("<x/>")
        .send()
        .await
        .unwrap();
    expect_error(r, 415, "invalid_request").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn browser_origins_are_checked_per_client() {
    let srv = start().await;
    let body =
        json!({"grant_type":"client_credentials","client_id":CONF_ID,"client_secret":CONF_SECRET});
    let send = |origin: &'static str| {
        http()
            .post(format!("{}/oauth/token", srv.base_url))
            .header("origin", origin)
            .json(&body)
            .send()
    };
    // Listed for this client: allowed, with CORS headers.
    let r = send("https://app.example.com").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    // Unlisted anywhere, or listed only for another client: OAUTH-29.
    let e = expect_error(
        send("https://evil.example.com").await.unwrap(),
        403,
        "invalid_request",
    )
    .await;
    assert_eq!(e["code"], "OAUTH-29");
    expect_error(
        send("http://localhost:3000").await.unwrap(),
        403,
        "invalid_request",
    )
    .await;
    // Preflight: 204 for a listed origin, 403 otherwise.
    let pre = |origin: &'static str| {
        http()
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/oauth/token", srv.base_url),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    let r = pre("http://localhost:3000").await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    assert!(r.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("authorization"));
    expect_error(
        pre("https://evil.example.com").await.unwrap(),
        403,
        "invalid_request",
    )
    .await;
    srv.shutdown().await;
}

#[tokio::test]
async fn rate_limit_per_client_gives_429_with_retry_after() {
    let srv = start().await;
    let body = json!({"grant_type":"client_credentials","client_id":LIMITED_ID,"client_secret":LIMITED_SECRET});
    for _ in 0..5 {
        assert_eq!(post_json(&srv, "/oauth/token", &body).await.status(), 200);
    }
    let r = post_json(&srv, "/oauth/token", &body).await;
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=300).contains(&retry));
    let e = expect_error(r, 429, "temporarily_unavailable").await;
    assert_eq!(e["code"], "HTTP-429");
    assert_eq!(e["title"], "API rate limit reached.");
    assert_eq!(
        e["detail"],
        format!("You need to wait {retry} seconds until limit is lifted.")
    );
    // The whole tier is blocked for that client: revoke too.
    let r = post_json(
        &srv,
        "/oauth/revoke",
        &json!({"token":"x","client_id":LIMITED_ID,"client_secret":LIMITED_SECRET}),
    )
    .await;
    expect_error(r, 429, "temporarily_unavailable").await;
    // Other clients are not affected.
    cc_token(&srv).await;
    srv.shutdown().await;
}

#[tokio::test]
async fn rate_limit_tier_default_by_peer() {
    let srv = start_with(|f| f["rate_limits"]["tier1"] = json!(3)).await;
    for _ in 0..3 {
        let r = http()
            .get(format!("{}/oauth/authorize?client_id=nobody", srv.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
    }
    let r = http()
        .get(format!("{}/oauth/authorize?client_id=nobody", srv.base_url))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("retry-after").is_some());
    expect_error(r, 429, "temporarily_unavailable").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn discovery_document() {
    let srv = start().await;
    let r = http()
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            srv.base_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["issuer"], json!(srv.base_url));
    assert_eq!(
        v["token_endpoint"],
        json!(format!("{}/oauth/token", srv.base_url))
    );
    assert_eq!(
        v["revocation_endpoint"],
        json!(format!("{}/oauth/revoke", srv.base_url))
    );
    assert_eq!(
        v["authorization_endpoint"],
        json!(format!("{}/oauth/authorize", srv.base_url))
    );
    assert_eq!(
        v["jwks_uri"],
        json!(format!("{}/.well-known/jwks.json", srv.base_url))
    );
    assert_eq!(v["code_challenge_methods_supported"], json!(["S256"]));
    let jwks: Value = http()
        .get(v["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(jwks["keys"].is_array());
    srv.shutdown().await;

    // A fixed issuer wins over the Host header, and is the assertion audience.
    let srv =
        start_with(|f| f["tenant"]["issuer"] = json!("https://reference.eu.qlikcloud.com")).await;
    let v: Value = http()
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            srv.base_url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["issuer"], "https://reference.eu.qlikcloud.com");
    let mut claims = assertion_claims(&srv);
    claims["aud"] = json!("https://reference.eu.qlikcloud.com/oauth/token");
    let a = assertion(
        "assertion-es384.pem",
        jsonwebtoken::Algorithm::ES384,
        Some("assertion-es384"),
        claims,
    );
    let r = post_form(
        &srv,
        "/oauth/token",
        &[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &a),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    srv.shutdown().await;
}

#[tokio::test]
async fn expired_entries_are_purged() {
    let srv = start_with(|f| {
        f["lifetimes"]["access_token_seconds"] = json!(1);
        f["lifetimes"]["code_seconds"] = json!(1);
        f["lifetimes"]["session_seconds"] = json!(1);
        f["limits"]["purge_interval_seconds"] = json!(1);
    })
    .await;
    for _ in 0..20 {
        cc_token(&srv).await;
    }
    get_code(&srv, PUBLIC_ID, PUBLIC_REDIRECT, "user_default").await;
    let s = srv.stats();
    assert_eq!(s.access_tokens, 20);
    assert_eq!(s.codes, 1);
    assert_eq!(s.sessions, 1);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    // Traffic triggers the sweep; it runs in the background.
    post_json(&srv, "/oauth/revoke", &json!({"token":"x"})).await;
    let mut s = srv.stats();
    for _ in 0..50 {
        if s.access_tokens == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        s = srv.stats();
    }
    assert_eq!((s.access_tokens, s.codes, s.sessions), (0, 0, 0), "{s:?}");
    srv.shutdown().await;
}

#[tokio::test]
async fn router_serves_in_process_with_host_issuer() {
    use tower::ServiceExt as _;
    let app = qoauth_reference::router(Fixture::default_fixture());
    let req = http::Request::get("/.well-known/oauth-authorization-server")
        .header("host", "tenant.example:9000")
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["issuer"], "http://tenant.example:9000");
    // HTTP/2 style: the authority in the URI and no Host header.
    let req = http::Request::get("http://h2.example/.well-known/oauth-authorization-server")
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["issuer"], "http://h2.example");
    let req = http::Request::post("/oauth/token")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            json!({"grant_type":"client_credentials","client_id":CONF_ID,"client_secret":CONF_SECRET}).to_string(),
        ))
        .unwrap();
    assert_eq!(app.oneshot(req).await.unwrap().status(), 200);
}
