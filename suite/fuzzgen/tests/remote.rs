//! Remote fuzzing against a deliberately broken server: the planted 500 must be found and
//! saved as a case file that is valid, redacted, and reproduces the 500 when replayed.

use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use qoauth_fuzzgen::{fuzz_remote, replay_case, AnomalyKind, RemoteFuzzConfig, Vocabulary};

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
    (
        StatusCode::BAD_REQUEST,
        [("content-type", "application/json")],
        r#"{"errors":[{"code":"OAUTH-0","title":"Bad request","status":"400"}]}"#,
    )
        .into_response()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finds_the_planted_500_and_saves_a_case_that_reproduces_it() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let server = tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().fallback(broken))
            .await
            .expect("serve");
    });
    let target: url::Url = format!("http://{addr}").parse().expect("url");
    let out = std::env::temp_dir().join(format!("qoauth-fuzz-remote-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let vocabulary = Vocabulary::default_fixture();
    let mut config = RemoteFuzzConfig::new(target.clone(), vocabulary.clone(), out.clone());
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
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../cases/case.schema.json"
        ))
        .expect("schema readable"),
    )
    .expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let problems: Vec<String> = validator
        .iter_errors(&case)
        .map(|e| e.to_string())
        .collect();
    assert!(
        problems.is_empty(),
        "case file breaks the schema: {problems:?}"
    );
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
        replay_case(case_path, &target, &vocabulary, Duration::from_secs(5))
            .await
            .expect("replay runs");
    assert_eq!(
        observed.expect("an answer").status,
        500,
        "replay does not reproduce the 500"
    );
    assert!(anomalies.iter().any(|a| a.kind == AnomalyKind::ServerError));

    server.abort();
    let _ = std::fs::remove_dir_all(&out);
}
