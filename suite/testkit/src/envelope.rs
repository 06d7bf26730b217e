//! The spec's `Errors` envelope, `{"errors": [{"code", "title", "status", ...}]}`: assert
//! that an answer is one, and build one for a stub server to send.
//!
//! The spec defines every error answer of the API this way, with `status` the HTTP status
//! as a string, so one check serves every test that reads an error.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// Asserts `body` is an `Errors` envelope for an answer with HTTP status `status`: a
/// non-empty `errors` array whose every member has a non-empty string `code`, a string
/// `title`, and `status` equal to `status` as a string. Returns the first error.
pub fn assert_errors(body: &Value, status: u16) -> &Value {
    let errors = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors array in {body}"));
    assert!(!errors.is_empty(), "an empty errors array in {body}");
    for e in errors {
        assert_eq!(
            e["status"],
            json!(status.to_string()),
            "status string in {body}"
        );
        assert!(
            e["code"].as_str().is_some_and(|c| !c.is_empty()),
            "code in {body}"
        );
        assert!(e["title"].as_str().is_some(), "title in {body}");
    }
    &errors[0]
}

/// Asserts `resp` has HTTP status `status`, a JSON content type, and an `Errors` envelope
/// body ([`assert_errors`]). Returns the first error.
pub async fn expect_envelope(resp: reqwest::Response, status: u16) -> Value {
    assert_eq!(resp.status().as_u16(), status, "status");
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().expect("a readable content-type").to_owned())
        .unwrap_or_default();
    assert!(ct.starts_with("application/json"), "content-type {ct}");
    let body: Value = resp.json().await.expect("a JSON body");
    assert_errors(&body, status).clone()
}

/// [`expect_envelope`], and the first error names the RFC 6749 error `rfc_error` in
/// `meta.error`, where the reference (like the real service) puts it. Returns that error.
pub async fn expect_error(resp: reqwest::Response, status: u16, rfc_error: &str) -> Value {
    let e = expect_envelope(resp, status).await;
    assert_eq!(
        e["meta"]["error"],
        json!(rfc_error),
        "RFC error name in {e}"
    );
    e
}

/// The envelope of one error, as a stub server writes it.
pub fn errors(status: u16, code: &str, title: &str) -> Value {
    json!({"errors": [{"code": code, "title": title, "status": status.to_string()}]})
}

/// A whole answer with the envelope of one error ([`errors`]) and `status`, for a stub
/// server that refuses correctly.
pub fn response(status: u16, code: &str, title: &str) -> Response {
    let status_code = StatusCode::from_u16(status).expect("an HTTP status");
    (
        status_code,
        [("content-type", "application/json")],
        errors(status, code, title).to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_built_envelope_passes_the_check() {
        let body = errors(401, "OAUTH-5", "Unauthorized");
        assert_eq!(assert_errors(&body, 401)["code"], "OAUTH-5");
    }

    #[test]
    #[should_panic(expected = "status string")]
    fn a_status_other_than_the_http_one_fails() {
        assert_errors(&errors(400, "OAUTH-5", "Unauthorized"), 401);
    }

    #[test]
    #[should_panic(expected = "code in")]
    fn an_empty_code_fails() {
        assert_errors(&errors(400, "", "Bad request"), 400);
    }
}
