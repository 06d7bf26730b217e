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

/// Counts requests per path, and the most that were ever in flight on `/slow`.
#[derive(Default)]
struct Tally {
    token: AtomicU32,
    cleanup: AtomicU32,
    slow_now: AtomicU32,
    slow_peak: AtomicU32,
}

fn tally_app(t: Arc<Tally>) -> Router {
    let (a, b, c) = (Arc::clone(&t), Arc::clone(&t), t);
    Router::new()
        .route(
            "/oauth/token",
            post(move || {
                a.token.fetch_add(1, Ordering::SeqCst);
                async { envelope::response(400, "OAUTH-3", "Invalid request") }
            }),
        )
        .route(
            "/cleanup",
            axum::routing::patch(move || {
                b.cleanup.fetch_add(1, Ordering::SeqCst);
                async { StatusCode::NO_CONTENT }
            }),
        )
        .route(
            "/slow",
            get(move || {
                let c = Arc::clone(&c);
                async move {
                    let now = c.slow_now.fetch_add(1, Ordering::SeqCst) + 1;
                    c.slow_peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    c.slow_now.fetch_sub(1, Ordering::SeqCst);
                    StatusCode::OK.into_response()
                }
            }),
        )
}

#[tokio::test]
async fn cleanup_steps_run_after_a_finding_and_only_they_do() {
    let t = Arc::new(Tally::default());
    let server = serve(tally_app(Arc::clone(&t))).await;
    let p = profile(server.addr, json!({}));
    let cases = common::cases(json!({"cases": [{
    "id": "cleanup.after_failure", "title": "t", "level": "MUST", "refs": [{"doc": "spec", "section": "x"}],
    "steps": [
        {"request": {"method": "POST", "path": "/oauth/token"}, "expect": {"status": 200}},
        {"request": {"method": "POST", "path": "/oauth/token"}, "expect": {"status": 400}},
        {"request": {"method": "PATCH", "path": "/cleanup"}, "expect": {"status": 204}, "cleanup": true}
    ]}]}));
    let r = run(&cases, &p, &RunOptions::default()).await.unwrap();
    assert_eq!(r.cases[0].verdict, Verdict::Fail, "{:?}", r.cases[0].reason);
    assert_eq!(
        t.token.load(Ordering::SeqCst),
        1,
        "the step after the finding is not sent"
    );
    assert_eq!(t.cleanup.load(Ordering::SeqCst), 1, "the cleanup step is");
    assert_eq!(r.cases[0].findings.len(), 1, "{:?}", r.cases[0].findings);

    let misplaced = json!({"cases": [{
    "id": "cleanup.first", "title": "t", "level": "MUST", "refs": [{"doc": "spec", "section": "x"}],
    "steps": [
        {"request": {"method": "PATCH", "path": "/cleanup"}, "cleanup": true},
        {"request": {"method": "POST", "path": "/oauth/token"}}
    ]}]});
    let err = qoauth_harness::cases::parse_case_file(
        std::path::Path::new("inline.json"),
        &misplaced.to_string(),
    )
    .expect_err("a cleanup step before another step is refused");
    assert!(
        format!("{err:?}").contains("cleanup steps come last"),
        "{err:?}"
    );
}

#[tokio::test]
async fn cases_that_change_a_user_run_one_at_a_time() {
    let t = Arc::new(Tally::default());
    let server = serve(tally_app(Arc::clone(&t))).await;
    let p = profile(
        server.addr,
        json!({"users": {
            "default": {"login_hint": "alice@example.com"},
            "suspendable": {"login_hint": "erin@example.com", "user_id": "user-erin"}
        }}),
    );
    let case = |id: &str, needs: &[&str]| {
        json!({"id": id, "title": "t", "level": "MUST", "refs": [{"doc": "spec", "section": "x"}],
            "needs": needs, "steps": [{"request": {"method": "GET", "path": "/slow"}, "expect": {"status": 200}}]})
    };
    let changing = common::cases(json!({"cases": [
        case("user.a", &["user.suspendable"]), case("user.b", &["user.suspendable"]), case("user.c", &["user.suspendable"])
    ]}));
    let r = run(&changing, &p, &RunOptions::default()).await.unwrap();
    assert!(
        r.cases.iter().all(|c| c.verdict == Verdict::Pass),
        "{:?}",
        r.cases
    );
    assert_eq!(
        t.slow_peak.load(Ordering::SeqCst),
        1,
        "cases changing the user overlapped"
    );

    let others = common::cases(
        json!({"cases": [case("other.a", &[]), case("other.b", &[]), case("other.c", &[])]}),
    );
    run(&others, &p, &RunOptions::default()).await.unwrap();
    assert!(
        t.slow_peak.load(Ordering::SeqCst) > 1,
        "other cases run side by side"
    );
}
