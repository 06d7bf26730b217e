//! Deliberately broken servers: each shows that the matching cases fail (or error) with
//! a reason a person can act on, within the profile's timeouts.

mod common;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use common::{profile, sample_cases, SECRET};
use qoauth_harness::result::Verdict;
use qoauth_harness::{run, RunOptions};
use qoauth_testkit::envelope;
use qoauth_testkit::server::{raw_target, read_request, refused_addr, serve, Served};
use serde_json::json;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which rule a token endpoint breaks.
#[derive(Clone, Copy)]
enum Fault {
    None,
    NoCacheControl,
    AcceptsWrongSecret,
    TokenTypeMac,
}

fn secret_of(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct.contains("json") {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        v.get("client_secret")
            .and_then(|s| s.as_str())
            .map(str::to_string)
    } else {
        url::form_urlencoded::parse(body)
            .find(|(k, _)| k == "client_secret")
            .map(|(_, v)| v.into_owned())
    }
}

fn token_app(fault: Fault) -> Router {
    Router::new().route(
        "/oauth/token",
        post(move |headers: HeaderMap, body: Bytes| async move {
            let ok = secret_of(&headers, &body).as_deref() == Some(SECRET);
            if !ok && !matches!(fault, Fault::AcceptsWrongSecret) {
                return envelope::response(401, "OAUTH-5", "Unauthorized");
            }
            let token_type = if matches!(fault, Fault::TokenTypeMac) { "mac" } else { "bearer" };
            let body = json!({"access_token": "tok-9f8e7d6c5b4a39281706f5e4d3c2b1a0", "token_type": token_type, "expires_in": 21600, "scope": "user_default"}).to_string();
            let mut r = ([("content-type", "application/json")], body).into_response();
            if !matches!(fault, Fault::NoCacheControl) {
                r.headers_mut().insert("cache-control", "no-store".parse().unwrap());
            }
            r
        }),
    )
}

async fn run_sample(fault: Fault) -> qoauth_harness::result::RunResult {
    let server = serve(token_app(fault)).await;
    let p = profile(server.addr, json!({}));
    run(&sample_cases(), &p, &RunOptions::default())
        .await
        .expect("run starts")
}

fn verdict_of<'a>(
    r: &'a qoauth_harness::result::RunResult,
    id: &str,
) -> &'a qoauth_harness::result::CaseResult {
    r.cases
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no result for {id}"))
}

#[tokio::test]
async fn a_correct_server_passes_the_sample() {
    let r = run_sample(Fault::None).await;
    for c in &r.cases {
        assert_eq!(c.verdict, Verdict::Pass, "{}: {:?}", c.id, c.reason);
    }
}

#[tokio::test]
async fn missing_no_store_fails_and_says_which_header() {
    let r = run_sample(Fault::NoCacheControl).await;
    let c = verdict_of(&r, "token.client_credentials.no_store");
    assert_eq!(c.verdict, Verdict::Fail);
    let reason = c.reason.as_deref().unwrap();
    assert!(reason.contains("header cache-control present"), "{reason}");
    assert!(reason.contains("absent"), "{reason}");
    // The other cases do not depend on the header.
    assert_eq!(
        verdict_of(&r, "token.client_credentials.json_body_secret").verdict,
        Verdict::Pass
    );
}

#[tokio::test]
async fn accepting_a_wrong_secret_fails_with_expected_and_actual_status() {
    let r = run_sample(Fault::AcceptsWrongSecret).await;
    let c = verdict_of(&r, "token.client_credentials.wrong_secret");
    assert_eq!(c.verdict, Verdict::Fail);
    let f = &c.findings[0];
    assert_eq!(f.expected, "status in [400, 401]");
    assert!(f.actual.starts_with("status 200"), "{}", f.actual);
}

#[tokio::test]
async fn a_wrong_token_type_fails_naming_the_pointer() {
    let r = run_sample(Fault::TokenTypeMac).await;
    let c = verdict_of(&r, "token.client_credentials.json_body_secret");
    assert_eq!(c.verdict, Verdict::Fail);
    let all: Vec<String> = c
        .findings
        .iter()
        .map(|f| format!("{} / {}", f.expected, f.actual))
        .collect();
    assert!(
        all.iter()
            .any(|f| f.contains("/token_type equals_ci \"bearer\"") && f.contains("\"mac\"")),
        "{all:?}"
    );
    // The schema's enum catches it too.
    assert!(
        all.iter()
            .any(|f| f.contains("schema oauth-token-response")),
        "{all:?}"
    );
}

#[tokio::test]
async fn should_breaks_warn_and_info_never_fails() {
    let server = serve(token_app(Fault::NoCacheControl)).await;
    let p = profile(server.addr, json!({}));
    let mk = |id: &str, level: &str| {
        json!({"id": id, "title": "t", "level": level, "refs": [{"doc": "RFC6749", "section": "5.1"}],
               "steps": [{"request": {"method": "POST", "path": "/oauth/token",
                   "form": {"grant_type": "client_credentials", "client_id": "{{clients.confidential.id}}", "client_secret": "{{clients.confidential.secret}}"}},
                   "expect": {"headers": {"cache-control": {"contains": "no-store"}}}}]})
    };
    let cases = common::cases(
        json!({"cases": [mk("token.x.should", "SHOULD"), mk("token.x.info", "INFO"), mk("token.x.may", "MAY")]}),
    );
    let r = run(&cases, &p, &RunOptions::default()).await.unwrap();
    assert_eq!(verdict_of(&r, "token.x.should").verdict, Verdict::Warn);
    assert_eq!(verdict_of(&r, "token.x.info").verdict, Verdict::Info);
    assert_eq!(verdict_of(&r, "token.x.may").verdict, Verdict::Info);
    // Info keeps the observation.
    assert!(!verdict_of(&r, "token.x.info").findings.is_empty());
}

#[tokio::test]
async fn an_unreachable_target_gives_error_verdicts_quickly() {
    // Nothing listens on the port any more.
    let p = profile(refused_addr(), json!({}));
    let t = Instant::now();
    let r = run(&sample_cases(), &p, &RunOptions::default())
        .await
        .unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "took {:?}",
        t.elapsed()
    );
    for c in &r.cases {
        assert_eq!(c.verdict, Verdict::Error, "{}", c.id);
        assert!(
            c.reason.as_deref().unwrap().contains("cannot connect"),
            "{:?}",
            c.reason
        );
    }
    assert!(qoauth_harness::preflight(&p).await.is_err());
}

#[tokio::test]
async fn a_hanging_target_fails_the_answer_invariant_within_the_request_timeout() {
    // Accepts connections and never answers, nor closes them.
    let server = raw_target(|held| async move {
        let _held = held;
        std::future::pending::<()>().await
    })
    .await;
    let p = profile(
        server.addr,
        json!({"timeouts": {"request_ms": 300, "case_ms": 5000}}),
    );
    let t = Instant::now();
    let r = run(&sample_cases(), &p, &RunOptions::default())
        .await
        .unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "took {:?}",
        t.elapsed()
    );
    for c in &r.cases {
        assert_eq!(c.verdict, Verdict::Fail, "{}", c.id);
        assert!(
            c.reason.as_deref().unwrap().contains("within 300 ms"),
            "{:?}",
            c.reason
        );
        assert_eq!(c.transcript.len(), 1);
        assert!(c.transcript[0].transport_error.is_some());
    }
}

#[tokio::test]
async fn a_slow_case_hits_the_case_timeout() {
    // Each answer takes 250 ms; a case of ten requests cannot finish in 1 s.
    let app = Router::new().route(
        "/oauth/token",
        post(|| async {
            tokio::time::sleep(Duration::from_millis(250)).await;
            "{}"
        }),
    );
    let server = serve(app).await;
    let p = profile(
        server.addr,
        json!({"timeouts": {"request_ms": 2000, "case_ms": 1000}}),
    );
    let cases = common::cases(
        json!({"cases": [{"id": "token.slow.case", "title": "t", "level": "MUST", "refs": [{"doc": "spec", "section": "x"}],
        "steps": [{"repeat": 10, "request": {"method": "POST", "path": "/oauth/token"}, "expect": {"status": 200}}]}]}),
    );
    let t = Instant::now();
    let r = run(&cases, &p, &RunOptions::default()).await.unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(1800),
        "took {:?}",
        t.elapsed()
    );
    let c = &r.cases[0];
    assert_eq!(c.verdict, Verdict::Error);
    assert!(
        c.reason.as_deref().unwrap().contains("case timeout"),
        "{:?}",
        c.reason
    );
}

/// A raw HTTP/1.1 server that answers every request with `head` and then `chunks`
/// chunks of 16 KiB (chunked encoding, so no Content-Length announces the size).
async fn chunked_server(head: &'static str, chunks: usize) -> Served {
    use tokio::io::AsyncWriteExt;
    raw_target(move |mut s| async move {
        read_request(&mut s).await;
        if s.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = format!("4000\r\n{}\r\n", "x".repeat(0x4000));
        for _ in 0..chunks {
            if s.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
        }
        let _ = s.write_all(b"0\r\n\r\n").await;
    })
    .await
}

#[tokio::test]
async fn an_oversized_streamed_body_is_cut_and_fails_the_answer_invariant() {
    let server = chunked_server(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n",
        64,
    )
    .await;
    let p = profile(server.addr, json!({"max_body_bytes": 65536}));
    let r = run(&sample_cases(), &p, &RunOptions::default())
        .await
        .unwrap();
    for c in &r.cases {
        assert_eq!(c.verdict, Verdict::Fail, "{}", c.id);
        assert!(
            c.reason
                .as_deref()
                .unwrap()
                .contains("exceeds the cap of 65536 bytes"),
            "{:?}",
            c.reason
        );
    }
}

#[tokio::test]
async fn an_oversized_declared_body_is_refused_before_reading() {
    let app = Router::new().route("/oauth/token", post(|| async { vec![b'x'; 1 << 20] }));
    let server = serve(app).await;
    let p = profile(server.addr, json!({"max_body_bytes": 1000}));
    let r = run(&sample_cases(), &p, &RunOptions::default())
        .await
        .unwrap();
    for c in &r.cases {
        assert_eq!(c.verdict, Verdict::Fail, "{}", c.id);
        assert!(
            c.reason
                .as_deref()
                .unwrap()
                .contains("exceeds the cap of 1000 bytes"),
            "{:?}",
            c.reason
        );
    }
}

fn login_case() -> Vec<Arc<qoauth_harness::Case>> {
    common::cases(
        json!({"cases": [{"id": "authorize.login.basic", "title": "t", "level": "MUST", "refs": [{"doc": "RFC6749", "section": "4.1.2"}],
        "let": {"state": {"random": {"length": 24}}},
        "steps": [{"login": {"client": "confidential", "state": "{{state}}"},
                   "expect": {"status": [302, 303], "location": {"redirect_uri": "{{clients.confidential.redirect_uri}}", "query": {"state": {"equals": "{{state}}"}, "code": {"present": true}}}},
                   "capture": {"code": {"location_query": "code"}}}]}]}),
    )
}

#[tokio::test]
async fn a_redirect_loop_is_bounded() {
    let app = Router::new()
        .route(
            "/oauth/authorize",
            get(|| async { (StatusCode::FOUND, [("location", "/loop")]) }),
        )
        .route(
            "/loop",
            get(|| async { (StatusCode::FOUND, [("location", "/loop")]) }),
        );
    let server = serve(app).await;
    let p = profile(server.addr, json!({"redirect_limit": 4}));
    let r = run(&login_case(), &p, &RunOptions::default())
        .await
        .unwrap();
    let c = &r.cases[0];
    assert_eq!(c.verdict, Verdict::Error);
    assert!(
        c.reason
            .as_deref()
            .unwrap()
            .contains("more than 4 redirects"),
        "{:?}",
        c.reason
    );
    assert_eq!(c.requests, 5, "the first request and four redirects");
}

#[tokio::test]
async fn a_login_follows_redirects_with_cookies_until_the_redirect_uri() {
    // authorize -> /login (sets a session cookie) -> /consent (needs the cookie) -> client.
    let app = Router::new()
        .route(
            "/oauth/authorize",
            get(|q: axum::extract::RawQuery| async move {
                let q = q.0.unwrap_or_default();
                assert!(q.contains("login_hint=alice%40example.com"), "{q}");
                (StatusCode::FOUND, [("location", format!("/login?{q}"))])
            }),
        )
        .route(
            "/login",
            get(|q: axum::extract::RawQuery| async move {
                (StatusCode::FOUND, [("location", format!("/consent?{}", q.0.unwrap_or_default())), ("set-cookie", "sid=Zx81kQ2mP0vLr7TnW3yB5cD9; Path=/; HttpOnly".to_string())])
            }),
        )
        .route(
            "/consent",
            get(|headers: HeaderMap, q: axum::extract::Query<std::collections::HashMap<String, String>>| async move {
                let cookie = headers.get("cookie").and_then(|v| v.to_str().ok()).unwrap_or("");
                if !cookie.contains("sid=Zx81kQ2mP0vLr7TnW3yB5cD9") {
                    return (StatusCode::UNAUTHORIZED, [("location", String::new())]).into_response();
                }
                let loc = format!("{}?code=c0de-8h2k4m6n8p0r2t4v6x8z&state={}", q["redirect_uri"], q["state"]);
                (StatusCode::FOUND, [("location", loc)]).into_response()
            }),
        );
    let server = serve(app).await;
    let p = profile(server.addr, json!({}));
    let r = run(&login_case(), &p, &RunOptions::default())
        .await
        .unwrap();
    let c = &r.cases[0];
    assert_eq!(c.verdict, Verdict::Pass, "{:?} {:?}", c.reason, c.findings);
    assert_eq!(c.requests, 3);
    let snap = serde_json::to_string(&qoauth_harness::snapshot(c)).unwrap();
    assert!(
        !snap.contains("c0de-8h2k4m6n8p0r2t4v6x8z"),
        "code leaked: {snap}"
    );
    assert!(
        !snap.contains("Zx81kQ2mP0vLr7TnW3yB5cD9"),
        "cookie leaked: {snap}"
    );
    assert!(
        snap.contains("<code#1>") && snap.contains("<cookie#1>") && snap.contains("<state#1>"),
        "{snap}"
    );
}

#[tokio::test]
async fn login_mode_none_skips_with_the_reason() {
    let p = profile(
        "127.0.0.1:9".parse().unwrap(),
        json!({"login": {"mode": "none"}}),
    );
    let r = run(&login_case(), &p, &RunOptions::default())
        .await
        .unwrap();
    let c = &r.cases[0];
    assert_eq!(c.verdict, Verdict::Skip);
    assert!(
        c.reason.as_deref().unwrap().contains("login mode is none"),
        "{:?}",
        c.reason
    );
    assert_eq!(c.requests, 0);
}

#[tokio::test]
async fn a_missing_client_role_skips_with_the_reason() {
    let p = profile(
        "127.0.0.1:9".parse().unwrap(),
        json!({"clients": {"public": {"id": "p"}}}),
    );
    let r = run(&sample_cases(), &p, &RunOptions::default())
        .await
        .unwrap();
    for c in &r.cases {
        assert_eq!(c.verdict, Verdict::Skip);
        assert!(
            c.reason
                .as_deref()
                .unwrap()
                .contains("no confidential client"),
            "{:?}",
            c.reason
        );
    }
}

#[tokio::test]
async fn retry_after_on_429_is_honoured() {
    let hits = Arc::new(AtomicU32::new(0));
    let h = Arc::clone(&hits);
    let app = Router::new().route(
        "/oauth/token",
        post(move || {
            let h = Arc::clone(&h);
            async move {
                if h.fetch_add(1, Ordering::SeqCst) == 0 {
                    return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], "{}")
                        .into_response();
                }
                (
                    [
                        ("content-type", "application/json"),
                        ("cache-control", "no-store"),
                    ],
                    r#"{"access_token":"a","token_type":"bearer"}"#,
                )
                    .into_response()
            }
        }),
    );
    let server = serve(app).await;
    let p = profile(server.addr, json!({}));
    let cases: Vec<_> = sample_cases()
        .into_iter()
        .filter(|c| c.id.ends_with("no_store"))
        .collect();
    let t = Instant::now();
    let r = run(
        &cases,
        &p,
        &RunOptions {
            revoke: false,
            ..RunOptions::default()
        },
    )
    .await
    .unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "did not wait: {:?}",
        t.elapsed()
    );
    assert_eq!(r.cases[0].verdict, Verdict::Pass, "{:?}", r.cases[0].reason);
    assert_eq!(r.cases[0].requests, 2);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_request_budget_stops_the_run_cleanly() {
    let server = serve(token_app(Fault::None)).await;
    let p = profile(server.addr, json!({"request_budget": 2}));
    let opts = RunOptions {
        concurrency: 1,
        revoke: false,
        ..RunOptions::default()
    };
    let r = run(&sample_cases(), &p, &opts).await.unwrap();
    assert_eq!(r.stats.requests, 2);
    let last = r.cases.last().unwrap();
    assert_eq!(last.verdict, Verdict::Skip);
    assert!(
        last.reason.as_deref().unwrap().contains("budget"),
        "{:?}",
        last.reason
    );
}

#[tokio::test]
async fn a_host_outside_allowed_hosts_is_refused() {
    let server = serve(token_app(Fault::None)).await;
    let p = profile(
        server.addr,
        json!({"allowed_hosts": ["tenant.example.com"]}),
    );
    let err = run(&sample_cases(), &p, &RunOptions::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("not in the profile's allowed_hosts"),
        "{err}"
    );
}

#[tokio::test]
async fn issued_tokens_are_revoked_at_the_end() {
    let revoked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let rv = Arc::clone(&revoked);
    let app = token_app(Fault::None).route(
        "/oauth/revoke",
        post(move |body: Bytes| {
            let rv = Arc::clone(&rv);
            async move {
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                rv.lock()
                    .unwrap()
                    .push(v["token"].as_str().unwrap().to_string());
                "{}"
            }
        }),
    );
    let server = serve(app).await;
    let p = profile(server.addr, json!({}));
    let r = run(&sample_cases(), &p, &RunOptions::default())
        .await
        .unwrap();
    // Two cases get a token; each is revoked once.
    assert_eq!(revoked.lock().unwrap().len(), 2);
    assert_eq!(r.stats.requests, 5);
}

/// An INFO case only records what a target answers, but a 500 is never an answer a clause
/// leaves open: the request only an INFO case sends (an authorization without the spec's
/// required state) crashing the server fails that case as a MUST, naming the invariant.
#[tokio::test]
async fn a_500_to_a_request_only_an_info_case_sends_fails_the_case() {
    let app = Router::new().route(
        "/oauth/authorize",
        get(|uri: axum::http::Uri| async move {
            if uri.query().unwrap_or("").contains("state=") {
                envelope::response(400, "OAUTH-3", "Invalid request")
            } else {
                (StatusCode::INTERNAL_SERVER_ERROR, "panicked at 'state'").into_response()
            }
        }),
    );
    let server = serve(app).await;
    let catalogue = qoauth_harness::Catalogue::load(&qoauth_harness::Catalogue::default_dir())
        .expect("catalogue loads");
    let case: Vec<_> = catalogue
        .cases
        .iter()
        .filter(|c| c.id == "authorize.error_redirect.state_missing")
        .cloned()
        .collect();
    assert_eq!(case.len(), 1);
    assert_eq!(case[0].level, qoauth_harness::result::Level::Info);
    let r = run(
        &case,
        &profile(server.addr, json!({})),
        &RunOptions::default(),
    )
    .await
    .expect("run starts");
    let c = verdict_of(&r, "authorize.error_redirect.state_missing");
    assert_eq!(c.verdict, Verdict::Fail, "{:?}", c.reason);
    assert_eq!(c.level, qoauth_harness::result::Level::Must);
    let reason = c.reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains("invariant no_server_error (RFC 9110 15.6") && reason.contains("500"),
        "{reason}"
    );
}
