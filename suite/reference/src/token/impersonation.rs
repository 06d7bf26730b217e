//! User impersonation (`urn:qlik:oauth:user-impersonation`): a web client with the grant
//! obtains an access token for a user it names by subject or user id.

use axum::http::StatusCode;
use axum::response::Response;

use super::{issue_plain, requested_scope, Call};
use crate::client_auth::{known_client, Credentials};
use crate::errors::ApiError;

/// `urn:qlik:oauth:user-impersonation` (notes ambiguity 12): an authenticated web client
/// with the grant (else 401 OAUTH-14), a user found by subject or userId (unknown 400,
/// disabled 403), no refresh token.
pub(super) fn grant(call: &Call<'_, '_>) -> Result<Response, ApiError> {
    let Call {
        s,
        p,
        pres,
        headers,
        now,
    } = *call;
    if matches!(pres.creds, Credentials::None) {
        return Err(ApiError::invalid_client(
            "impersonation needs client authentication",
        ));
    }
    let (idx, client, _) = known_client(s, pres, true, headers, now)?;
    if !client.impersonation && !fault!(s, ImpersonationWithoutGrant) {
        return Err(ApiError::unauthorized_client(
            "this client may not impersonate users",
        ));
    }
    if !p.user_lookup_present {
        return Err(ApiError::invalid_request("user_lookup is required"));
    }
    let value = p
        .user_lookup_value
        .as_deref()
        .ok_or_else(|| ApiError::invalid_request("user_lookup.value is required"))?;
    let field = match p.user_lookup_field.as_deref() {
        None if fault!(s, LookupFieldDefaulted) => Some("subject"),
        f => f,
    };
    let user = match field {
        Some("subject") => s.reg.users.iter().position(|u| &*u.subject == value),
        Some("userId") => s.reg.users.iter().position(|u| &*u.id == value),
        _ => {
            return Err(ApiError::invalid_request(
                "user_lookup.field must be subject or userId",
            ))
        }
    };
    let user = user.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "OAUTH-15",
            "Invalid request",
            "invalid_request",
            "no user matches user_lookup",
        )
    })? as u32;
    if !s.store.user_active(user) && !fault!(s, DisabledUserAllowed) {
        return Err(ApiError::user_disabled());
    }
    let mut scope = requested_scope(s, p.scope.as_deref(), client.allowed_scopes)?;
    scope.remove(s.reg.offline_access);
    issue_plain(s, idx, user, scope, now, true)
}
