//! The client_credentials grant (RFC 6749 4.4): a machine token for an authenticated
//! client, without a user or a refresh token.

use axum::response::Response;

use super::{issue_plain, requested_scope, Call};
use crate::client_auth::{known_client, Credentials};
use crate::errors::ApiError;
use crate::scope::ScopeSet;
use crate::store::NO_USER;

/// RFC 6749 4.4. Only web clients with the grant; no refresh token (4.4.3) and therefore
/// no offline_access in the granted scope (notes ambiguity 8).
pub(super) fn grant(call: &Call<'_, '_>) -> Result<Response, ApiError> {
    let Call {
        s,
        p,
        pres,
        headers,
        now,
    } = *call;
    let public_ok = fault!(s, PublicClientCredentials);
    if matches!(pres.creds, Credentials::None) && !public_ok {
        // RFC 6749 4.4.2: "The client MUST authenticate with the authorization server".
        return Err(ApiError::invalid_client(
            "client_credentials needs client authentication (RFC 6749 4.4.2)",
        ));
    }
    let (idx, client, _) = known_client(s, pres, true, headers, now)?;
    let public_exempt = public_ok && !client.is_confidential();
    if !client.client_credentials && !public_exempt {
        return Err(ApiError::unauthorized_client(
            "this client may not use client_credentials",
        ));
    }
    let mut scope = requested_scope(s, p.scope.as_deref(), client.allowed_scopes)?;
    scope.remove(s.reg.offline_access);
    // Fault `narrowed-scope-unstated`: a narrowed grant that does not say so.
    let stated = !fault!(s, NarrowedScopeUnstated)
        || ScopeSet::request(&s.reg, p.scope.as_deref(), client.allowed_scopes).is_ok();
    issue_plain(s, idx, NO_USER, scope, now, stated)
}
