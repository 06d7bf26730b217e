//! The `Errors` envelope every failure is answered with (spec `#/components/schemas/Errors`;
//! [API] throws on any body with `errors`, notes section 1), and the stable error codes.
//!
//! Codes observed on the real service keep their meaning (notes section 2): OAUTH-1
//! unregistered redirect_uri, OAUTH-5 failed code/refresh/exchange, OAUTH-14 client not
//! authorized, HTTP-429 rate limit. The others are this server's own and stable.

use std::borrow::Cow;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One error of the envelope, as the spec's `Error` schema has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Error {
    pub code: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub status: String,
    /// `{"error": "<RFC 6749 error name>"}` so a suite can check the RFC meaning behind
    /// a Qlik status choice (notes ambiguity 3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<serde_json::Value>,
}

/// The spec's `Errors` envelope plus the `traceId` the real service adds (notes section 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Errors {
    pub errors: Vec<Error>,
    #[serde(rename = "traceId")]
    pub trace_id: String,
}

/// An error on its way to becoming a response. `detail` never holds a submitted value:
/// wrong secrets and tokens must not come back in bodies or logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: Cow<'static, str>,
    /// RFC 6749 5.2 / 4.1.2.1 / RFC 7009 error name.
    pub error: &'static str,
    /// Send `WWW-Authenticate: Basic` (RFC 6749 5.2, when Basic auth failed).
    pub basic_challenge: bool,
    pub retry_after: Option<u64>,
    pub allow: Option<&'static str>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        error: &'static str,
        detail: impl Into<Cow<'static, str>>,
    ) -> ApiError {
        ApiError {
            status,
            code,
            title,
            detail: detail.into(),
            error,
            basic_challenge: false,
            retry_after: None,
            allow: None,
        }
    }

    /// Malformed or missing parameters: 400 invalid_request (RFC 6749 5.2, notes ambiguity 3).
    pub fn invalid_request(detail: impl Into<Cow<'static, str>>) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "OAUTH-3",
            "Invalid request",
            "invalid_request",
            detail,
        )
    }

    /// Client authentication failed: 401 invalid_client (RFC 6749 5.2; spec 401 "invalid
    /// client credentials").
    pub fn invalid_client(detail: impl Into<Cow<'static, str>>) -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "OAUTH-7",
            "Invalid client credentials",
            "invalid_client",
            detail,
        )
    }

    /// Bad, expired, replayed or mismatched code, refresh token or subject token: 401
    /// OAUTH-5 (spec 401, notes ambiguity 3), RFC name invalid_grant.
    pub fn invalid_grant(detail: impl Into<Cow<'static, str>>) -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "OAUTH-5",
            "Unauthorized",
            "invalid_grant",
            detail,
        )
    }

    /// RFC 6749 5.2 unsupported_grant_type, 400 (notes ambiguity 3).
    pub fn unsupported_grant_type() -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "OAUTH-4",
            "Unsupported grant type",
            "unsupported_grant_type",
            "grant_type is not one of the five supported grants",
        )
    }

    /// RFC 6749 5.2 invalid_scope, 400 (notes ambiguity 9).
    pub fn invalid_scope(detail: impl Into<Cow<'static, str>>) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "OAUTH-6",
            "Invalid scope",
            "invalid_scope",
            detail,
        )
    }

    /// The client may not use this grant: 401 OAUTH-14 (notes sections 2 and ambiguity 12),
    /// RFC name unauthorized_client.
    pub fn unauthorized_client(detail: impl Into<Cow<'static, str>>) -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "OAUTH-14",
            "OAuth client is not authorized",
            "unauthorized_client",
            detail,
        )
    }

    /// Disabled user: 403 (spec POST /oauth/token 403).
    pub fn user_disabled() -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "OAUTH-9",
            "Forbidden",
            "access_denied",
            "the user is disabled",
        )
    }

    /// Token cap per (user, client) reached: 403 (spec POST /oauth/token 403, notes
    /// ambiguity 15).
    pub fn too_many_tokens() -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "OAUTH-10",
            "Forbidden",
            "access_denied",
            "the maximum number of tokens for this user and client is reached",
        )
    }

    pub fn not_found() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "HTTP-404",
            "Not found",
            "invalid_request",
            "no such endpoint",
        )
    }

    pub fn method_not_allowed(allow: &'static str) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "HTTP-405",
            "Method not allowed",
            "invalid_request",
            format!("this endpoint accepts {allow}"),
        );
        e.allow = Some(allow);
        e
    }

    pub fn payload_too_large(limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "HTTP-413",
            "Payload too large",
            "invalid_request",
            format!("request bodies are limited to {limit} bytes"),
        )
    }

    pub fn unsupported_media_type() -> ApiError {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "HTTP-415",
            "Unsupported media type",
            "invalid_request",
            "send application/json or application/x-www-form-urlencoded",
        )
    }

    /// Over the tier's limit: the envelope the real service sends (notes section 2).
    pub fn rate_limited(retry_after: u64) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "HTTP-429",
            "API rate limit reached.",
            "temporarily_unavailable",
            format!("You need to wait {retry_after} seconds until limit is lifted."),
        );
        e.retry_after = Some(retry_after);
        e
    }

    pub fn with_basic_challenge(mut self, yes: bool) -> ApiError {
        self.basic_challenge = yes;
        self
    }

    pub fn envelope(&self) -> Errors {
        Errors {
            errors: vec![Error {
                code: self.code.to_string(),
                title: self.title.to_string(),
                detail: Some(self.detail.to_string()),
                status: self.status.as_u16().to_string(),
                meta: Some(serde_json::json!({ "error": self.error })),
            }],
            trace_id: trace_id(),
        }
    }
}

/// A random id the way Qlik's `traceId` looks (32 hex digits), to correlate a report with
/// nothing else: it carries no request data.
fn trace_id() -> String {
    let v: u128 = rand::random();
    format!("{v:032x}")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        tracing::debug!(
            status = self.status.as_u16(),
            code = self.code,
            error = self.error,
            "request refused"
        );
        let body =
            serde_json::to_vec(&self.envelope()).unwrap_or_else(|_| b"{\"errors\":[]}".to_vec());
        let mut resp = (self.status, body).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        // RFC 6749 5.1/5.2: responses of the token endpoint are never cached; harmless elsewhere.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if self.basic_challenge {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"oauth\", charset=\"UTF-8\""),
            );
        }
        if let Some(s) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if let Some(a) = self.allow {
            h.insert(header::ALLOW, HeaderValue::from_static(a));
        }
        // The rest of an oversized body is never read, so the connection cannot carry
        // another request: close it rather than let the client reuse it and meet a broken
        // pipe (RFC 9110 15.5.14 allows closing; RFC 9112 9.6 says how to announce it).
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            h.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}
