//! A profile for the harness's stub servers (served by `qoauth_testkit::server`), and
//! cases from inline JSON.
#![allow(dead_code)]

use qoauth_harness::cases::{parse_case_file, Case};
use qoauth_harness::Profile;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// The confidential secret of the test profile; tests grep outputs for it.
pub const SECRET: &str = "s3cr3t-Confidential-Value-0042";

/// A profile for a server at `addr`, with short timeouts; `extra` is merged over it.
pub fn profile(addr: SocketAddr, extra: serde_json::Value) -> Profile {
    let mut p = serde_json::json!({
        "name": "test",
        "base_url": format!("http://{addr}"),
        "allowed_hosts": ["127.0.0.1"],
        "clients": {
            "confidential": {"id": "client-one", "secret": SECRET, "redirect_uri": "https://app.example.com/cb", "scope": "user_default"},
            "public": {"id": "native-one", "redirect_uri": "http://127.0.0.1:9/cb", "scope": "user_default"}
        },
        "users": {"default": {"login_hint": "alice@example.com", "subject": "auth0|alice"}},
        "login": {"mode": "login_hint"},
        "timeouts": {"request_ms": 400, "case_ms": 3000},
        "max_body_bytes": 65536,
        "redirect_limit": 5
    });
    if let (Some(base), serde_json::Value::Object(extra)) = (p.as_object_mut(), extra) {
        for (k, v) in extra {
            base.insert(k, v);
        }
    }
    Profile::from_json(&p.to_string(), Path::new(".")).expect("test profile")
}

/// Cases from inline JSON (a whole case file).
pub fn cases(json: serde_json::Value) -> Vec<Arc<Case>> {
    parse_case_file(Path::new("inline.json"), &json.to_string())
        .unwrap_or_else(|e| panic!("test cases do not load: {e:?}"))
        .into_iter()
        .map(Arc::new)
        .collect()
}

/// The format's sample case file as first committed (a copy, so catalogue edits do not
/// move these tests).
pub fn sample_cases() -> Vec<Arc<Case>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/client_credentials.json");
    let text = std::fs::read_to_string(&path).expect("sample case file");
    parse_case_file(&path, &text)
        .expect("sample loads")
        .into_iter()
        .map(Arc::new)
        .collect()
}
