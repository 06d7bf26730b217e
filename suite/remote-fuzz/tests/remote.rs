//! Remote fuzzing against a deliberately broken server: the planted 500 must be found and
//! saved as a case file that is valid, redacted, and reproduces the 500 when replayed.

use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use qoauth_fuzzgen::{AnomalyKind, Vocabulary};
use qoauth_remote_fuzz::{fuzz_remote, replay_case, RemoteFuzzConfig};
use qoauth_testkit::envelope;
use qoauth_testkit::paths::scratch_path;
use qoauth_testkit::profile::reference_at;
use qoauth_testkit::server::{loopback, raw_target, read_request, serve, Served};

/// Answers every request with a proper `Errors` envelope, except the planted bug: a form
/// body posted to the token endpoint crashes it into a bare 500.
async fn broken(
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> axum::response::Response {
    let form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if method == axum::http::Method::POST && uri.path() == "/oauth/token" && form {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "panic: index out of bounds",
        )
            .into_response();
    }
    envelope::response(400, "OAUTH-0", "Bad request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finds_the_planted_500_and_saves_a_case_that_reproduces_it() {
    let server = serve(axum::Router::new().fallback(broken)).await;
    let out = scratch_path("fuzz-remote");
    let vocabulary = Vocabulary::default_fixture();
    let mut config = RemoteFuzzConfig::new(
        reference_at(&server.base_url),
        vocabulary.clone(),
        out.clone(),
    );
    config.budget = 4000;
    config.duration = Duration::from_secs(60);
    config.rate_per_second = 5000.0;
    config.request_timeout = Duration::from_secs(5);
    config.seed = 7;
    let summary = fuzz_remote(config).await.expect("fuzzing runs");
    assert!(
        summary.sent > 0 && summary.sent <= 4000,
        "budget respected: {}",
        summary.sent
    );
    assert_eq!(summary.transport_errors, 0);
    assert!(
        summary.by_kind.get("server_error").copied().unwrap_or(0) > 0,
        "the planted 500 was not found in {} requests: {:?}",
        summary.sent,
        summary.by_kind
    );
    // The server is otherwise correct: only the planted request may be reported (its bare
    // 500 body is also not an envelope).
    for kind in summary.by_kind.keys() {
        assert!(
            ["server_error", "not_envelope"].contains(kind),
            "false positive: {kind} in {:?}",
            summary.case_files
        );
    }
    for path in &summary.case_files {
        let case: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("readable")).expect("JSON");
        assert_eq!(
            case.pointer("/cases/0/steps/0/request/path")
                .and_then(|v| v.as_str()),
            Some("/oauth/token"),
            "a case for a request the server answers correctly"
        );
    }
    let case_path = summary
        .case_files
        .iter()
        .find(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("fuzz.server_error.")
        })
        .expect("a case file for the 500");

    let text = std::fs::read_to_string(case_path).expect("case file readable");
    for secret in vocabulary.secrets() {
        assert!(
            !text.contains(secret),
            "case file holds an unredacted secret"
        );
    }
    let case: serde_json::Value = serde_json::from_str(&text).expect("case file is JSON");
    if let Err(problems) = qoauth_harness::cases::parse_case_file(case_path, &text) {
        panic!("the harness refuses the case file: {problems:?}");
    }
    assert_eq!(
        case.pointer("/cases/0/steps/0/request/method")
            .and_then(|v| v.as_str()),
        Some("POST")
    );
    assert_eq!(
        case.pointer("/cases/0/steps/0/request/path")
            .and_then(|v| v.as_str()),
        Some("/oauth/token")
    );

    let (observed, anomalies) =
        replay_case(case_path, &reference_at(&server.base_url), &vocabulary)
            .await
            .expect("replay runs");
    assert_eq!(
        observed.expect("an answer").status,
        500,
        "replay does not reproduce the 500"
    );
    assert!(anomalies.iter().any(|a| a.kind == AnomalyKind::ServerError));

    drop(server);
    let _ = std::fs::remove_dir_all(&out);
}

/// Fuzz requests carry client secrets: against a TLS target whose certificate does not
/// verify, the run must stop before its first request, unless the profile said to accept
/// the certificate. The positive control (same server, acceptance on) shows the refusal is
/// the certificate's doing and not an unreachable server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_to_send_to_an_untrusted_certificate_unless_told_to_accept_it() {
    let server = qoauth_reference::spawn_with(
        qoauth_reference::Fixture::default_fixture(),
        loopback(),
        qoauth_reference::Tls::Generated,
    )
    .await
    .expect("TLS reference starts");
    let out = scratch_path("fuzz-tls");
    let mut config = RemoteFuzzConfig::new(
        reference_at(&server.base_url),
        Vocabulary::default_fixture(),
        out.clone(),
    );
    config.budget = 20;
    config.rate_per_second = 1000.0;
    config.duration = Duration::from_secs(30);
    config.seed = 11;

    let refused = fuzz_remote(config.clone())
        .await
        .expect_err("an untrusted certificate must stop the run");
    let message = format!("{refused:#}");
    assert!(
        message.contains("does not verify") && message.contains("accept_invalid_certs"),
        "the refusal names the certificate and the way out: {message}"
    );
    assert!(!out.exists(), "no case file written: nothing was sent");

    config.profile.accept_invalid_certs = true;
    let summary = fuzz_remote(config)
        .await
        .expect("accepted certificate: the run goes on");
    assert_eq!(summary.sent, 20);
    assert_eq!(
        summary.transport_errors, 0,
        "every request answered over TLS"
    );
    let _ = std::fs::remove_dir_all(&out);
}

/// What fuzzing a raw HTTP/1.1 target finds; the target's handler writes the whole
/// response (or never stops writing).
async fn kinds_against(target: Served, seed: u64) -> Vec<&'static str> {
    let out = scratch_path(&format!("fuzz-odd-{seed}"));
    let mut config = RemoteFuzzConfig::new(
        reference_at(&target.base_url),
        Vocabulary::default_fixture(),
        out.clone(),
    );
    config.budget = 40;
    config.rate_per_second = 1000.0;
    config.request_timeout = Duration::from_secs(2);
    config.seed = seed;
    let summary = fuzz_remote(config).await.expect("fuzzing runs");
    let _ = std::fs::remove_dir_all(&out);
    summary.by_kind.keys().copied().collect()
}

/// Answers a client can do nothing with are anomalies too, not only 5xx and timeouts: a
/// redirect from every endpoint (here to itself), a 200 whose body is not JSON, and a body
/// that never ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_redirect_loops_non_json_successes_and_endless_bodies() {
    use tokio::io::AsyncWriteExt;
    let redirect_loop = raw_target(|mut s| async move {
            read_request(&mut s).await;
            let _ = s
                .write_all(b"HTTP/1.1 302 Found\r\nlocation: /oauth/token\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
    })
    .await;
    let kinds = kinds_against(redirect_loop, 1).await;
    assert!(kinds.contains(&"unlisted_status"), "{kinds:?}");

    let not_json = raw_target(|mut s| async move {
            read_request(&mut s).await;
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 12\r\nconnection: close\r\n\r\n<html></html")
                .await;
    })
    .await;
    let kinds = kinds_against(not_json, 2).await;
    assert!(kinds.contains(&"unreadable"), "{kinds:?}");

    let endless = raw_target(|mut s| async move {
            read_request(&mut s).await;
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
                .await;
            let chunk = format!("{:x}\r\n{}\r\n", 4096, "[".repeat(4096));
            while s.write_all(chunk.as_bytes()).await.is_ok() {}
    })
    .await;
    let kinds = kinds_against(endless, 3).await;
    assert!(kinds.contains(&"unreadable"), "{kinds:?}");
}
