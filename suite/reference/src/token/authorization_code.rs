//! The authorization_code grant (RFC 6749 4.1.3) with PKCE (RFC 7636): redeeming a code
//! the authorize endpoint issued, once, for the client and redirect URI it was bound to.

use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::{issue_family, missing_grant, Call, Issue};
use crate::client_auth::{known_client, Credentials};
use crate::errors::ApiError;
use crate::store::{hash_token, lock};
use crate::variants::Variant;

/// RFC 7636 4.1 code_verifier syntax: 43 to 128 unreserved characters.
fn valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// RFC 6749 4.1.3 with PKCE (RFC 7636 4.6). The code is single use: a replay fails and
/// revokes everything the code issued (RFC 6749 4.1.2, RFC 9700 4.2.4). Bad, expired or
/// replayed codes are 401 OAUTH-5 (spec, notes ambiguity 3).
pub(super) fn grant(call: &Call<'_, '_>) -> Result<Response, ApiError> {
    let Call {
        s,
        p,
        pres,
        headers,
        now,
    } = *call;
    let code = p
        .code
        .as_deref()
        .ok_or_else(|| missing_grant(s, "code is required"))?;
    let redirect_uri = p
        .redirect_uri
        .as_deref()
        .ok_or_else(|| ApiError::invalid_request("redirect_uri is required (RFC 6749 4.1.3)"))?;
    let verifier = p.code_verifier.as_deref();
    let verifier_required =
        || ApiError::invalid_request("code_verifier is required (RFC 7636 4.5)");
    if verifier.is_none()
        && !s.varies(Variant::ChallengeOptional)
        && !fault!(s, PkceDowngradeAccepted)
    {
        return Err(verifier_required());
    }
    if verifier.is_some_and(|v| !valid_verifier(v)) {
        return Err(ApiError::invalid_request(
            "code_verifier must be 43 to 128 unreserved characters (RFC 7636 4.1)",
        ));
    }
    // RFC 6749 4.1.3: confidential clients authenticate; public ones send client_id.
    if fault!(s, AssertionOnlyForClientCredentials)
        && matches!(pres.creds, Credentials::Assertion(_))
    {
        return Err(ApiError::invalid_client("client authentication failed"));
    }
    let require = !fault!(s, ConfidentialWithoutSecret);
    let (idx, _client, _) = known_client(s, pres, require, headers, now)?;
    #[cfg(feature = "faults")]
    let raced = fault!(s, CodeRedemptionRace) && headers.contains_key(crate::injection::RACE_MARK);
    #[cfg(not(feature = "faults"))]
    let raced = false;
    let challenge = verifier
        .map(|v| URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes())))
        .unwrap_or_default();
    let h = hash_token(code);

    enum Outcome {
        Missing,
        WrongClient,
        Replayed(u64),
        WrongRedirect,
        WrongVerifier,
        VerifierMissing,
        Ok(crate::store::CodeRecord, u64),
    }
    let mut fams = lock(&s.store.families);
    let outcome = s
        .store
        .codes
        .update(&h, |rec| {
            if rec.expires_ms <= now {
                return Outcome::Missing;
            }
            if rec.client != idx && !fault!(s, CodeNotBoundToClient) {
                return Outcome::WrongClient;
            }
            if let Some(f) = rec.redeemed {
                if !fault!(s, CodeReusable) && !raced {
                    return Outcome::Replayed(f);
                }
            }
            if *rec.redirect_uri != *redirect_uri && !fault!(s, RedirectUriNotChecked) {
                return Outcome::WrongRedirect;
            }
            // Without a challenge (variant `challenge-optional`), a verifier is a downgrade
            // attempt: RFC 9700 2.1.1 accepts one only if a code_challenge was sent.
            if !rec.challenge.is_empty() && verifier.is_none() {
                return Outcome::VerifierMissing;
            }
            let downgraded = rec.challenge.is_empty() && fault!(s, PkceDowngradeAccepted);
            if !bool::from(subtle::ConstantTimeEq::ct_eq(
                rec.challenge.as_bytes(),
                challenge.as_bytes(),
            )) && !fault!(s, PkceNotEnforced)
                && !downgraded
            {
                // A wrong verifier burns the code: PKCE guesses get one try.
                rec.redeemed = Some(0);
                return Outcome::WrongVerifier;
            }
            let fid = s.store.new_family_id();
            rec.redeemed = Some(fid);
            let issued = rec.clone();
            // Remember the redemption as long as its tokens can live, so a late replay
            // still revokes them (RFC 6749 4.1.2); the binding data is no longer needed.
            let offline = s.reg.offline_access.is_some_and(|b| rec.scope.contains(b));
            let ttl = if offline {
                s.reg.refresh_ttl
            } else {
                s.reg.access_ttl
            };
            rec.expires_ms = rec.expires_ms.max(now + ttl * 1000);
            if !raced && !fault!(s, CodeReusable) {
                rec.redirect_uri = Box::from("");
                rec.challenge = Box::from("");
            }
            Outcome::Ok(issued, fid)
        })
        .unwrap_or(Outcome::Missing);
    let (rec, fid) = match outcome {
        Outcome::Missing => return Err(ApiError::invalid_grant("the code is invalid or expired")),
        Outcome::WrongClient => {
            return Err(ApiError::invalid_grant(
                "the code was issued to another client",
            ))
        }
        Outcome::Replayed(f) => {
            if !fault!(s, CodeReplayKeepsTokens) {
                s.store.revoke_family(&mut fams, f);
            }
            return Err(ApiError::invalid_grant(
                "the code was already used; tokens issued from it are revoked (RFC 6749 4.1.2)",
            ));
        }
        Outcome::WrongRedirect => {
            return Err(ApiError::invalid_grant(
                "redirect_uri differs from the authorization request (RFC 6749 4.1.3)",
            ))
        }
        Outcome::WrongVerifier => {
            return Err(ApiError::invalid_grant(
                "code_verifier does not match the code_challenge (RFC 7636 4.6)",
            ))
        }
        Outcome::VerifierMissing => return Err(verifier_required()),
        Outcome::Ok(rec, fid) => (rec, fid),
    };
    if !s.store.user_active(rec.user) && !fault!(s, DisabledUserCodeRedeemed) {
        return Err(ApiError::user_disabled());
    }
    issue_family(
        s,
        &mut fams,
        &Issue {
            family: fid,
            client: rec.client,
            user: rec.user,
            grant_scope: rec.scope,
            access_scope: rec.scope,
            auth_time: rec.auth_time,
            kept: None,
        },
        now,
    )
}
