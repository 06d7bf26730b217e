//! Controls a run keeps on a target: dry-run sends nothing, the rate limit paces, and a
//! session login replays the profile's cookies and headers.

mod common;

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use common::{profile, sample_cases};
use qoauth_harness::result::Verdict;
use qoauth_harness::{dry_run, run, RunOptions};
use qoauth_testkit::envelope;
use qoauth_testkit::server::serve;
use serde_json::json;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn counting_app(hits: Arc<AtomicU32>) -> Router {
    Router::new().route(
        "/oauth/token",
        post(move || {
            let hits = Arc::clone(&hits);
            async move {
                hits.fetch_add(1, Ordering::SeqCst);
                envelope::response(400, "OAUTH-3", "Invalid request")
            }
        }),
    )
}

#[tokio::test]
async fn dry_run_lists_every_request_and_sends_none() {
    let hits = Arc::new(AtomicU32::new(0));
    let server = serve(counting_app(Arc::clone(&hits))).await;
    let p = profile(server.addr, json!({}));
    let plan = dry_run(&sample_cases(), &p);
    assert_eq!(plan.len(), 3);
    assert!(plan
        .iter()
        .all(|c| c.requests.len() == 1 && c.skip.is_none() && c.error.is_none()));
    let listed = serde_json::to_string(&plan).unwrap();
    assert!(
        listed.contains(&format!("{}/oauth/token", server.base_url)),
        "{listed}"
    );
    assert!(!listed.contains(common::SECRET), "{listed}");
    assert!(listed.contains("<clients.confidential.secret>"), "{listed}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_rate_limit_paces_requests() {
    let hits = Arc::new(AtomicU32::new(0));
    let server = serve(counting_app(Arc::clone(&hits))).await;
    let p = profile(server.addr, json!({"rate_limit": 20.0}));
    let cases = common::cases(
        json!({"cases": [{"id": "token.paced.ten", "title": "t", "level": "MUST", "refs": [{"doc": "spec", "section": "x"}],
        "steps": [{"repeat": 10, "concurrent": true, "request": {"method": "POST", "path": "/oauth/token"}, "expect_count": {"400": {"equals": 10}}}]}]}),
    );
    let t = Instant::now();
    let r = run(&cases, &p, &RunOptions::default()).await.unwrap();
    // Ten requests at 20/s: the last may leave 450 ms after the first.
    assert!(
        t.elapsed() >= Duration::from_millis(430),
        "not paced: {:?}",
        t.elapsed()
    );
    assert_eq!(r.cases[0].verdict, Verdict::Pass, "{:?}", r.cases[0].reason);
    assert_eq!(hits.load(Ordering::SeqCst), 10);
}

#[tokio::test]
async fn session_login_replays_cookies_and_headers() {
    let app = Router::new().route(
        "/oauth/authorize",
        get(
            |headers: HeaderMap,
             q: axum::extract::Query<std::collections::HashMap<String, String>>| async move {
                let cookie = headers
                    .get("cookie")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let csrf = headers
                    .get("x-csrf")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if !cookie.contains("eas.sid=S3ss10nCookieValue")
                    || csrf != "Csrf-T0ken-Value"
                    || q.contains_key("login_hint")
                {
                    return (StatusCode::UNAUTHORIZED, "not signed in").into_response();
                }
                let loc = format!(
                    "{}?code=abcdefgh12345678&state={}",
                    q["redirect_uri"], q["state"]
                );
                (StatusCode::FOUND, [("location", loc)]).into_response()
            },
        ),
    );
    let server = serve(app).await;
    // The profile reads this secret from the environment at load time.
    std::env::set_var("QOAUTH_TEST_CSRF", "Csrf-T0ken-Value");
    let p = profile(
        server.addr,
        json!({"login": {"mode": "session", "session": {"cookies": {"eas.sid": "S3ss10nCookieValue"}, "headers": {"x-csrf": {"env": "QOAUTH_TEST_CSRF"}}}}}),
    );
    let cases = common::cases(
        json!({"cases": [{"id": "authorize.session.login", "title": "t", "level": "MUST", "refs": [{"doc": "RFC6749", "section": "4.1.2"}],
        "let": {"state": {"random": {"length": 20}}},
        "steps": [{"login": {"client": "confidential", "state": "{{state}}"},
                   "expect": {"status": 302, "location": {"redirect_uri": "{{clients.confidential.redirect_uri}}", "query": {"state": {"equals": "{{state}}"}}}}}]}]}),
    );
    let r = run(&cases, &p, &RunOptions::default()).await.unwrap();
    let c = &r.cases[0];
    assert_eq!(c.verdict, Verdict::Pass, "{:?} {:?}", c.reason, c.findings);
    let all = serde_json::to_string(&r).unwrap();
    assert!(
        !all.contains("S3ss10nCookieValue") && !all.contains("Csrf-T0ken-Value"),
        "{all}"
    );
}
