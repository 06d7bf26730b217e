//! POST /oauth/revoke (RFC 7009). Not a grant, but it sits beside them because it is read,
//! authenticated and answered through the token endpoint's framing (`post_endpoint`).

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::post_endpoint;
use crate::app::{AppState, Shared};
use crate::client_auth::{known_client, Presented};
use crate::errors::ApiError;
use crate::parse::{self, Params};
use crate::store::{hash_token, lock};
use crate::variants::Variant;

/// POST /oauth/revoke (RFC 7009, notes ambiguity 13): unauthenticated calls and a Bearer
/// header are accepted, client credentials are checked when given, unknown tokens get 200,
/// the hint is only a hint, and revoking a refresh token revokes its whole grant.
pub(crate) async fn revoke(State(s): State<Shared>, req: Request) -> Response {
    post_endpoint(s, req, parse::revoke_request, revoke_inner, false).await
}

fn revoke_inner(
    s: &AppState,
    p: Params<'_>,
    pres: &Presented<'_>,
    headers: &HeaderMap,
    now: u64,
) -> Result<Response, ApiError> {
    let caller = match pres.client_id.as_deref() {
        // Variant `revoke-ignores-client`: the spec's revoke body has no client fields.
        _ if s.varies(Variant::RevokeIgnoresClient) => None,
        None => None,
        Some(_) => {
            let (idx, _, _) = known_client(s, pres, false, headers, now)?;
            Some(idx)
        }
    };
    let token = p.token.as_deref().unwrap_or_default();
    let h = hash_token(token);
    let not_yours = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "OAUTH-16",
            "Invalid request",
            "unauthorized_client",
            "the token was not issued to this client (RFC 7009 2.1)",
        )
    };
    let refresh_first = p.token_type_hint.as_deref() == Some("refresh_token");
    let hinted = p.token_type_hint.is_some();
    let mut found = false;
    for pass in 0..2 {
        if fault!(s, RevocationNoop) || (pass == 1 && hinted && fault!(s, RevokeHintTrusted)) {
            break;
        }
        if (pass == 0) == refresh_first {
            if let Some(r) = s.store.refresh.get(&h, |r| *r) {
                if caller.is_some_and(|c| c != r.client) {
                    return Err(not_yours());
                }
                if !fault!(s, RevokeRefreshKeepsAccess)
                    && !s.varies(Variant::AccessSurvivesRefreshRevocation)
                {
                    let mut fams = lock(&s.store.families);
                    s.store.revoke_family(&mut fams, r.family);
                }
                s.store.refresh.remove(&h);
                found = true;
                break;
            }
        } else if let Some(a) = s.store.access.get(&h, |r| *r) {
            if caller.is_some_and(|c| c != a.client) {
                return Err(not_yours());
            }
            if !s.varies(Variant::AccessRevocationUnsupported) {
                s.store.remove_access(&h);
            }
            found = true;
            break;
        }
    }
    if !found && fault!(s, RevokeUnknown400) {
        return Err(ApiError::invalid_request("the token is unknown"));
    }
    let mut r = (StatusCode::OK, "{}").into_response();
    let hd = r.headers_mut();
    hd.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    hd.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}
