//! Client authentication at the token and revoke endpoints (RFC 6749 2.3, RFC 7523): which
//! single method a request uses, and checking it against the named client (secret or
//! private-key JWT). Apart from the app's routing and state because both endpoints and
//! every grant rely on it, each with its own rule on when authentication is required.

use std::borrow::Cow;

use axum::http::{HeaderMap, HeaderValue};
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::errors::ApiError;
use crate::fixture::Client;
use crate::parse::{self, BasicCredentials, Params, JWT_BEARER_ASSERTION};
use crate::variants::Variant;

/// How a request tried to authenticate its client (RFC 6749 2.3, RFC 7523 2.2).
pub(crate) enum Credentials<'a> {
    None,
    Secret { secret: Cow<'a, str>, basic: bool },
    Assertion(Cow<'a, str>),
}

/// The client a request names and the credentials it presents.
pub(crate) struct Presented<'a> {
    pub client_id: Option<Cow<'a, str>>,
    pub creds: Credentials<'a>,
}

impl<'a> Presented<'a> {
    pub fn via_basic(&self) -> bool {
        matches!(self.creds, Credentials::Secret { basic: true, .. })
    }
}

/// Sorts out the client authentication of a token or revoke request. Using more than one
/// method is refused (RFC 6749 2.3: "MUST NOT use more than one authentication method in
/// each request"; notes ambiguity 1).
pub(crate) fn presented<'a>(
    p: &mut Params<'a>,
    authorization: Option<&HeaderValue>,
    allow_many: bool,
) -> Result<Presented<'a>, ApiError> {
    let basic: Option<BasicCredentials> = match authorization {
        Some(v) => parse::basic_authorization(v.as_bytes())
            .map_err(|e| e.to_api_error().with_basic_challenge(true))?,
        None => None,
    };
    let assertion = p.client_assertion.is_some() || p.client_assertion_type.is_some();
    let methods = basic.is_some() as u8 + p.client_secret.is_some() as u8 + assertion as u8;
    if methods > 1 && !allow_many {
        return Err(ApiError::invalid_request(
            "more than one client authentication method was used (RFC 6749 2.3)",
        ));
    }
    if let Some(b) = basic {
        if let Some(id) = &p.client_id {
            if **id != *b.client_id {
                return Err(ApiError::invalid_request(
                    "client_id in the body differs from the Basic credentials",
                ));
            }
        }
        return Ok(Presented {
            client_id: Some(Cow::Owned(b.client_id)),
            creds: Credentials::Secret {
                secret: Cow::Owned(b.client_secret),
                basic: true,
            },
        });
    }
    if assertion {
        if p.client_assertion_type.as_deref() != Some(JWT_BEARER_ASSERTION) {
            return Err(ApiError::invalid_request(
                "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer (RFC 7523 2.2)",
            ));
        }
        let a = p.client_assertion.take().ok_or_else(|| {
            ApiError::invalid_request("client_assertion is missing (RFC 7523 2.2)")
        })?;
        // RFC 7523 3.1: client_id is optional with an assertion; the `iss` names the client.
        let id = match p.client_id.take() {
            Some(id) => Some(id),
            None => parse::assertion_issuer(&a).map(Cow::Owned),
        };
        return Ok(Presented {
            client_id: id,
            creds: Credentials::Assertion(a),
        });
    }
    Ok(Presented {
        client_id: p.client_id.take(),
        creds: match p.client_secret.take() {
            Some(s) => Credentials::Secret {
                secret: s,
                basic: false,
            },
            None => Credentials::None,
        },
    })
}

/// Finds and authenticates the client a request names; unknown clients and failed
/// authentication are 401 invalid_client (RFC 6749 5.2).
pub(crate) fn known_client<'s>(
    s: &'s AppState,
    pres: &Presented<'_>,
    require: bool,
    headers: &HeaderMap,
    now: u64,
) -> Result<(u32, &'s Client, bool), ApiError> {
    let id = pres.client_id.as_deref().ok_or_else(|| {
        ApiError::invalid_client("client_id is required").with_basic_challenge(pres.via_basic())
    })?;
    let (idx, client) = s.reg.client(id).ok_or_else(|| {
        ApiError::invalid_client("unknown client").with_basic_challenge(pres.via_basic())
    })?;
    let authed = authenticate(s, idx, client, pres, require, headers, now)?;
    Ok((idx, client, authed))
}

/// Checks presented credentials against a client. `require` makes a public call of a
/// confidential client fail (RFC 6749 3.2.1). Returns whether the client authenticated.
pub(crate) fn authenticate(
    state: &AppState,
    client_idx: u32,
    client: &Client,
    pres: &Presented<'_>,
    require: bool,
    headers: &HeaderMap,
    now: u64,
) -> Result<bool, ApiError> {
    let basic = pres.via_basic();
    match &pres.creds {
        Credentials::None => {
            if require && client.is_confidential() {
                return Err(ApiError::invalid_client(
                    "this client must authenticate (RFC 6749 3.2.1)",
                ));
            }
            Ok(false)
        }
        Credentials::Secret { secret, .. } => {
            if !client.auth_secret || !secret_matches(client, secret) {
                if fault!(state, SecretEchoed) {
                    let detail = format!("client authentication failed for secret {secret}");
                    return Err(ApiError::invalid_client(detail).with_basic_challenge(basic));
                }
                return Err(ApiError::invalid_client("client authentication failed")
                    .with_basic_challenge(basic));
            }
            Ok(true)
        }
        Credentials::Assertion(a) => {
            let aud = format!("{}/oauth/token", state.issuer(headers));
            let lax = parse::Lax {
                aud: fault!(state, AssertionAudSkipped),
                exp: fault!(state, AssertionExpSkipped),
                signature: fault!(state, AssertionSignatureSkipped),
                alg_none: fault!(state, AlgNoneAccepted),
                kid_optional: state.varies(Variant::AssertionKidOptional),
                jti_optional: state.varies(Variant::AssertionJtiOptional),
            };
            let claims =
                parse::client_assertion_lax(&state.fixture, &client.id, a, &aud, now / 1000, lax)
                    .map_err(|e| e.to_api_error())?;
            // RFC 7523 3: replay protection is a MAY; without a jti there is nothing to track.
            let tracked = !state.varies(Variant::AssertionReplayAllowed) && !claims.jti.is_empty();
            if tracked
                && !state
                    .store
                    .use_jti(client_idx, &claims.jti, claims.exp * 1000, now)
                && !fault!(state, AssertionJtiSkipped)
            {
                return Err(ApiError::invalid_client(
                    "client_assertion jti was already used (RFC 7523 3)",
                ));
            }
            Ok(true)
        }
    }
}

/// Compares a secret with every registered one in constant time: the SHA-256 digests are
/// compared, so neither content nor length leaks through timing.
fn secret_matches(client: &Client, secret: &str) -> bool {
    use sha2::Digest;
    let d: [u8; 32] = sha2::Sha256::digest(secret.as_bytes()).into();
    let mut ok = subtle::Choice::from(0u8);
    for s in &client.secret_digests {
        ok |= s.ct_eq(&d);
    }
    ok.into()
}
