//! `PATCH /api/v1/users/{userId}`: the one operation of the tenant's users API a test double
//! needs, so that a case can disable a user between sign-in and the code redemption (or
//! the refresh) and see the token endpoint's 403 "user is disabled". The real tenant takes
//! the same request: an RFC 6902 JSON Patch replacing `/status` with `active` or
//! `disabled`, under a bearer token of an administrator; here the administrator is any
//! client the fixture marks `user_admin`. Nothing else of the users API is served.

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::app::{now_ms, read_body, Shared};
use crate::errors::ApiError;
use crate::store::hash_token;
use crate::variants::Variant;

/// One RFC 6902 operation, as the users API reads it.
#[derive(Deserialize)]
struct PatchOp {
    op: String,
    path: String,
    #[serde(default)]
    value: serde_json::Value,
}

pub(crate) async fn patch_user(
    State(s): State<Shared>,
    Path(user_id): Path<String>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    match patch(&s, &user_id, &parts.headers, body).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn patch(
    s: &Shared,
    user_id: &str,
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<(), ApiError> {
    admin(s, headers)?;
    let user = s
        .reg
        .users
        .iter()
        .position(|u| &*u.id == user_id)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "USERS-404",
                "Not found",
                "not_found",
                "no user has this id",
            )
        })?;
    let bytes = read_body(s.reg.max_body_bytes, headers, body).await?;
    let ops: Vec<PatchOp> = serde_json::from_slice(&bytes)
        .map_err(|_| ApiError::invalid_request("the body must be a JSON Patch array (RFC 6902)"))?;
    let mut status = None;
    for op in &ops {
        match (op.op.as_str(), op.path.as_str(), op.value.as_str()) {
            ("replace", "/status", Some("active")) => status = Some(true),
            ("replace", "/status", Some("disabled")) => status = Some(false),
            _ => {
                return Err(ApiError::invalid_request(
                    "only {\"op\": \"replace\", \"path\": \"/status\", \"value\": \"active\" | \"disabled\"} is served",
                ))
            }
        }
    }
    if let Some(active) = status {
        s.store.set_user_active(user as u32, active);
        if !active && s.varies(Variant::DisablingRevokesGrants) {
            s.store.revoke_grants_of(user as u32);
        }
    }
    Ok(())
}

/// The caller must present a live access token of a `user_admin` client (RFC 6750 2.1).
fn admin(s: &Shared, headers: &HeaderMap) -> Result<(), ApiError> {
    let unauthorized = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "USERS-401",
            "Unauthorized",
            "invalid_token",
            "a live bearer access token is required (RFC 6750 2.1)",
        )
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        })
        .map(|(_, t)| t.trim())
        .ok_or_else(unauthorized)?;
    let now = now_ms();
    let client = s
        .store
        .access
        .get(&hash_token(token), |r| {
            (r.expires_ms > now).then_some(r.client)
        })
        .flatten()
        .ok_or_else(unauthorized)?;
    if !s.reg.clients[client as usize].user_admin {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "USERS-403",
            "Forbidden",
            "insufficient_scope",
            "the token's client may not administer users",
        ));
    }
    Ok(())
}
