//! Nothing sensitive reaches a result, and the same behaviour gives the same snapshot.

mod common;

use axum::body::Bytes;
use axum::routing::post;
use axum::Router;
use common::{profile, SECRET};
use qoauth_harness::{run, snapshot, RunOptions};
use qoauth_testkit::server::serve;
use serde_json::json;
use std::sync::{Arc, Mutex};

/// A careless server: echoes the request (secret included) and issues random tokens.
fn echo_app() -> Router {
    Router::new().route(
        "/oauth/token",
        post(|body: Bytes| async move {
            let tok = uuid::Uuid::new_v4().simple().to_string();
            let refresh = uuid::Uuid::new_v4().simple().to_string();
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
            (
                [("content-type", "application/json"), ("set-cookie", "sid=Qw3rTy9uIoP1aS2dF4gH; Path=/")],
                json!({
                    "access_token": tok, "refresh_token": refresh, "token_type": "bearer",
                    "expires_at": format!("2030-01-01T00:00:{:02}.{:03}Z", (now / 1000) % 60, now % 1000),
                    "iat": now / 1000,
                    "echo": String::from_utf8_lossy(&body),
                    "trace": format!("{tok}-{refresh}")
                })
                .to_string(),
            )
        }),
    )
}

fn cases() -> Vec<Arc<qoauth_harness::Case>> {
    common::cases(json!({"cases": [{
    "id": "token.echo.twice", "title": "t", "level": "MUST", "refs": [{"doc": "spec", "section": "x"}],
    "let": {"verifier": {"pkce_verifier": {"length": 64}}, "basic": {"basic": {"user": "{{clients.confidential.id}}", "password": "{{clients.confidential.secret}}"}}},
    "steps": [
        {"request": {"method": "POST", "path": "/oauth/token", "form": {"client_secret": "{{clients.confidential.secret}}", "code_verifier": "{{verifier}}"}},
         "expect": {"status": 200, "body": {"not_contains": "{{clients.confidential.secret}}"}},
         "capture": {"at": {"json": "/access_token"}, "rt": {"json": "/refresh_token"}}},
        {"request": {"method": "POST", "path": "/oauth/token", "headers": {"authorization": "{{basic}}"}, "json": {"refresh_token": "{{rt}}", "token": "{{at}}"}},
         "expect": {"status": 200}, "record": ["/access_token", "/expires_at", "header:set-cookie"]}
    ]}]}))
}

#[tokio::test]
async fn secrets_and_tokens_never_reach_results_and_snapshots_are_stable() {
    let server = serve(echo_app()).await;
    let p = profile(server.addr, json!({}));
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let s2 = Arc::clone(&seen);
    let opts = RunOptions {
        revoke: false,
        sensitive_sink: Some(Arc::new(move |_: &str, v: &str| {
            s2.lock().unwrap().push(v.to_string())
        })),
        ..RunOptions::default()
    };
    let mut snaps = Vec::new();
    for _ in 0..3 {
        let r = run(&cases(), &p, &opts).await.unwrap();
        let c = &r.cases[0];
        // The body check saw the echoed secret: a finding, but redacted.
        assert_eq!(c.verdict, qoauth_harness::result::Verdict::Fail);
        let all = serde_json::to_string(&r).unwrap();
        assert!(!all.contains(SECRET), "secret leaked: {all}");
        for v in seen.lock().unwrap().iter() {
            assert!(!all.contains(v.as_str()), "{v} leaked: {all}");
        }
        assert!(all.contains("<clients.confidential.secret>"), "{all}");
        snaps.push(serde_json::to_string_pretty(&snapshot(c)).unwrap());
    }
    // Tokens, the verifier, the Basic credentials and the cookie were all seen.
    assert!(
        seen.lock().unwrap().len() >= 5,
        "{:?}",
        seen.lock().unwrap().len()
    );
    assert_eq!(snaps[0], snaps[1]);
    assert_eq!(snaps[1], snaps[2]);
    assert!(snaps[0].contains("<access_token#1>"), "{}", snaps[0]);
    assert!(snaps[0].contains("<timestamp>"), "{}", snaps[0]);
}

#[tokio::test]
async fn the_second_step_is_redacted_too() {
    let server = serve(echo_app()).await;
    let p = profile(server.addr, json!({}));
    let mut cs = cases();
    // Drop the failing body check so both steps run.
    let mut c = (*cs[0]).clone();
    c.steps[0].expect.as_mut().unwrap().body = None;
    cs[0] = Arc::new(c);
    let r = run(
        &cs,
        &p,
        &RunOptions {
            revoke: false,
            ..RunOptions::default()
        },
    )
    .await
    .unwrap();
    let c = &r.cases[0];
    // Both steps ran; the echo server sends the secret back, which the invariant catches
    // (and the reason names without the secret).
    assert_eq!(
        c.verdict,
        qoauth_harness::result::Verdict::Fail,
        "{:?}",
        c.reason
    );
    assert!(
        c.reason
            .as_deref()
            .unwrap_or_default()
            .contains("invariant secret_not_echoed"),
        "{:?}",
        c.reason
    );
    assert_eq!(c.transcript.len(), 2);
    let req2 = &c.transcript[1].request;
    assert_eq!(req2.headers["authorization"], "Basic <basic#1>");
    let body2 = req2.body.as_deref().unwrap();
    assert!(
        body2.contains("<refresh_token#1>") && body2.contains("<access_token#1>"),
        "{body2}"
    );
    assert_eq!(c.records["step 2 /expires_at"], json!("<timestamp>"));
    assert_eq!(c.records["step 2 /access_token"], json!("<access_token#2>"));
}
