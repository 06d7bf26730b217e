//! Token exchange (RFC 8693): an access token traded for a new one that expires no later,
//! for a purpose (websocket or webresource), as the browser client does.

use axum::http::StatusCode;
use axum::response::Response;

use super::{token_response, Answer, Call, TOKEN_TYPE_ACCESS};
use crate::client_auth::known_client;
use crate::errors::ApiError;
use crate::store::{hash_token, lock, new_token, AccessKind, AccessRecord, NO_USER};
use crate::variants::Variant;

/// Token exchange (RFC 8693, notes ambiguity 11): no client authentication needed (the
/// [API] browser client sends none), `client_id` must be the subject token's client,
/// 200 with issued_token_type; bad type or purpose 400, bad subject 401 OAUTH-5.
pub(super) fn grant(call: &Call<'_, '_>) -> Result<Response, ApiError> {
    let Call {
        s,
        p,
        pres,
        headers,
        now,
    } = *call;
    let subject = p
        .subject_token
        .as_deref()
        .ok_or_else(|| ApiError::invalid_request("subject_token is required (RFC 8693 2.1)"))?;
    match p.subject_token_type.as_deref() {
        Some(TOKEN_TYPE_ACCESS) => {}
        Some(_) => {
            return Err(ApiError::invalid_request(
                "subject_token_type must be urn:ietf:params:oauth:token-type:access_token",
            ))
        }
        None => {
            return Err(ApiError::invalid_request(
                "subject_token_type is required (RFC 8693 2.1)",
            ))
        }
    }
    match p.purpose.as_deref() {
        Some("websocket" | "webresource") => {}
        Some(_) => {
            return Err(ApiError::invalid_request(
                "purpose must be websocket or webresource",
            ))
        }
        None => return Err(ApiError::invalid_request("purpose is required")),
    }
    if pres.client_id.is_none() {
        return Err(ApiError::invalid_request("client_id is required"));
    }
    let (idx, client, _) = known_client(s, pres, false, headers, now)?;
    let cannot = || {
        // The message the real service gives (community.qlik.com 2076243, notes section 2).
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "OAUTH-5",
            "Unauthorized",
            "invalid_grant",
            "Cannot perform exchange with given Oauth configuration.",
        )
    };
    if !client.token_exchange {
        return Err(cannot());
    }
    let h = hash_token(subject);
    let rec = s
        .store
        .access
        .get(&h, |r| *r)
        .filter(|r| r.expires_ms > now)
        .ok_or_else(|| ApiError::invalid_grant("the subject token is invalid or expired"))?;
    if rec.client != idx && !s.varies(Variant::ExchangeAnyClient) {
        return Err(ApiError::invalid_grant(
            "the subject token was issued to another client",
        ));
    }
    // An M2M token has no user to act for (observed 401, notes section 2), unless the
    // tenant lets its bot user act (variant `exchange-machine-tokens`); an exchanged token
    // is not exchanged again.
    let machine = rec.user == NO_USER;
    if (machine && !s.varies(Variant::ExchangeMachineTokens)) || rec.kind == AccessKind::Exchanged {
        return Err(cannot());
    }
    if !machine && !s.store.user_active(rec.user) {
        return Err(ApiError::user_disabled());
    }
    let mut scope = rec.scope;
    scope.remove(s.reg.offline_access);
    let exp = (now + s.reg.access_ttl * 1000).min(rec.expires_ms);
    let mut fams = lock(&s.store.families);
    if rec.family != 0 && fams.get(&rec.family).is_none_or(|f| f.revoked) {
        return Err(ApiError::invalid_grant("the subject token was revoked"));
    }
    // The subject may have been revoked between the lookup and the lock.
    if s.store.access.get(&h, |_| ()).is_none() {
        return Err(ApiError::invalid_grant("the subject token was revoked"));
    }
    if !s.store.reserve(idx, rec.user, super::token_cap(s, idx)) {
        return Err(ApiError::too_many_tokens());
    }
    let (access, ah) = new_token();
    s.store.access.insert(
        ah,
        AccessRecord {
            expires_ms: exp,
            scope,
            family: rec.family,
            client: idx,
            user: rec.user,
            kind: AccessKind::Exchanged,
        },
    );
    if let Some(f) = fams.get_mut(&rec.family) {
        f.access.push(ah);
    }
    drop(fams);
    let expires_in = (exp.saturating_sub(now)) / 1000;
    // expires_at is computed from expires_in so the two agree to the second.
    Ok(token_response(
        s,
        &Answer {
            access: &access,
            expires_in,
            now,
            scope: Some(scope),
            refresh: None,
            auth_time: None,
            exchanged: true,
        },
    ))
}
