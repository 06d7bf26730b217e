//! The refresh_token grant (RFC 6749 6) with rotation and reuse detection (RFC 9700
//! 4.14.2).

use axum::response::Response;

use super::{issue_family, missing_grant, scope_error, Call, Issue};
use crate::client_auth::{authenticate, known_client, Credentials};
use crate::errors::ApiError;
use crate::scope::ScopeSet;
use crate::store::{hash_token, lock};
use crate::variants::Variant;

/// RFC 6749 6 with rotation and reuse detection (RFC 9700 4.14.2, notes ambiguity 8): each
/// refresh returns a new refresh token; presenting an already rotated one revokes the
/// whole family. The client is the token's (notes ambiguity 2).
pub(super) fn grant(call: &Call<'_, '_>) -> Result<Response, ApiError> {
    let Call {
        s,
        p,
        pres,
        headers,
        now,
    } = *call;
    let token = p
        .refresh_token
        .as_deref()
        .ok_or_else(|| missing_grant(s, "refresh_token is required (RFC 6749 6)"))?;
    let h = hash_token(token);
    let rec = s
        .store
        .refresh
        .get(&h, |r| *r)
        .filter(|r| r.expires_ms > now)
        .ok_or_else(|| ApiError::invalid_grant("the refresh token is invalid or expired"))?;
    let client = &s.reg.clients[rec.client as usize];
    if let Some(id) = pres.client_id.as_deref() {
        if id != &*client.id && fault!(s, RefreshClientNotBound) {
            // The presenting client is authenticated instead of the token's.
            known_client(s, pres, true, headers, now)?;
        } else if id != &*client.id {
            if s.reg.client(id).is_none() {
                return Err(ApiError::invalid_client("unknown client")
                    .with_basic_challenge(pres.via_basic()));
            }
            return Err(ApiError::invalid_grant(
                "the refresh token was issued to another client (RFC 6749 6)",
            ));
        }
    }
    let unverified =
        fault!(s, RefreshAssertionUnverified) && matches!(pres.creds, Credentials::Assertion(_));
    if pres.client_id.as_deref().is_none_or(|id| id == &*client.id) && !unverified {
        authenticate(s, rec.client, client, pres, true, headers, now)?;
    }

    let mut fams = lock(&s.store.families);
    let fam = match fams.get(&rec.family) {
        Some(f) if !f.revoked => f,
        _ => return Err(ApiError::invalid_grant("the refresh token was revoked")),
    };
    if fam.current_refresh != Some(h) && !fault!(s, RefreshReusable) {
        if fault!(s, RefreshReuseKeepsFamily) || s.varies(Variant::RotationWithoutFamilyRevocation)
        {
            return Err(ApiError::invalid_grant(
                "the refresh token was already used",
            ));
        }
        s.store.revoke_family(&mut fams, rec.family);
        return Err(ApiError::invalid_grant(
            "the refresh token was already used; its token family is revoked (RFC 9700 4.14.2)",
        ));
    }
    let access_scope = if fault!(s, RefreshScopeEscalation) {
        ScopeSet::request(&s.reg, p.scope.as_deref(), client.allowed_scopes)
    } else {
        match ScopeSet::narrow(&s.reg, p.scope.as_deref(), fam.scope) {
            Err(e) if s.varies(Variant::ScopeNarrowing) => {
                ScopeSet::allowed_part(&s.reg, p.scope.as_deref(), fam.scope).ok_or(e)
            }
            r => r,
        }
    }
    .map_err(scope_error)?;
    let (user, grant_scope, auth_time) = (fam.user, fam.scope, fam.auth_time);
    if !s.store.user_active(user) && !fault!(s, DisabledUserRefreshes) {
        return Err(ApiError::user_disabled());
    }
    // The old token stays recorded (until it expires) so its reuse is recognised;
    // issue_family makes the new one current, unless a confidential client keeps its token
    // (RFC 6749 6: a new refresh token is a MAY; RFC 9700 4.14.2 asks rotation of public
    // clients only).
    let kept =
        (client.is_confidential() && s.varies(Variant::RefreshKeptConfidential)).then_some(token);
    issue_family(
        s,
        &mut fams,
        &Issue {
            family: rec.family,
            client: rec.client,
            user,
            grant_scope,
            access_scope,
            auth_time,
            kept,
        },
        now,
    )
}
