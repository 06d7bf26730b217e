//! Atomicity under concurrency: 200 simultaneous redemptions of one code, and 200
//! simultaneous rotations of one refresh token, each with exactly one success.

use std::sync::Arc;

use qoauth_testkit::reference::*;
use qoauth_testkit::request::*;
use serde_json::{json, Value};
use tokio::sync::Barrier;

const RACERS: usize = 200;

/// Sends `body` to /oauth/token from `RACERS` tasks released at once; returns the statuses.
async fn race(base: &str, body: Value) -> Vec<u16> {
    // One connection per racer, so the requests really are in flight together.
    let barrier = Arc::new(Barrier::new(RACERS));
    let mut tasks = Vec::with_capacity(RACERS);
    for _ in 0..RACERS {
        let (b, body, url) = (barrier.clone(), body.clone(), format!("{base}/oauth/token"));
        tasks.push(tokio::spawn(async move {
            let c = reqwest::Client::new();
            b.wait().await;
            c.post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut out = Vec::with_capacity(RACERS);
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_code_redemptions_one_success() {
    let srv = start().await;
    let (code, verifier) = get_code(
        &srv,
        PUBLIC_ID,
        PUBLIC_REDIRECT,
        "user_default offline_access",
    )
    .await;
    let statuses = race(
        &srv.base_url,
        code_body(PUBLIC_ID, &code, PUBLIC_REDIRECT, &verifier),
    )
    .await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        RACERS - 1,
        "{statuses:?}"
    );
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_refresh_rotations_one_success() {
    let srv = start().await;
    let v = public_tokens(&srv).await;
    let body = json!({"grant_type":"refresh_token","refresh_token":v["refresh_token"]});
    let statuses = race(&srv.base_url, body).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        RACERS - 1,
        "{statuses:?}"
    );
    srv.shutdown().await;
}
