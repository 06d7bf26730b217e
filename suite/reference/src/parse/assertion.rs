//! RFC 7523 private-key JWT client assertions: reading and verifying one against a
//! fixture client's keys. Apart from the other parsers because it checks signatures and
//! times, not just syntax; it still holds no state (`jti` single use is the caller's).

use base64::Engine as _;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use super::ParseError;
use crate::fixture::Fixture;

/// `client_assertion_type` for RFC 7523 2.2.
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Claims of an accepted client assertion; `jti` single use is the caller's job (it needs
/// state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionClaims {
    pub client_id: String,
    pub jti: String,
    pub exp: u64,
    pub iat: u64,
    pub kid: String,
}

#[derive(Deserialize)]
struct RawClaims {
    iss: Option<serde_json::Value>,
    sub: Option<serde_json::Value>,
    aud: Option<serde_json::Value>,
    exp: Option<serde_json::Value>,
    iat: Option<serde_json::Value>,
    nbf: Option<serde_json::Value>,
    jti: Option<serde_json::Value>,
}

/// Clock skew tolerated on `iat` and `nbf` in the future.
const SKEW_SECONDS: u64 = 5;

/// Parses and validates a private-key JWT client assertion for a fixture client (RFC 7523
/// 3, notes section 2 and ambiguity 14): alg RS256/RS512/ES384 only (never `none` or HS*),
/// a `kid` naming one of the client's keys with that alg, a valid signature, `iss` = `sub`
/// = client_id, `aud` exactly `audience`, `exp` in the future and at most the fixture's
/// maximum lifetime after `iat`, and a `jti`.
pub fn client_assertion(
    fixture: &Fixture,
    client_id: &str,
    assertion: &str,
    audience: &str,
    now: u64,
) -> Result<AssertionClaims, ParseError> {
    client_assertion_lax(fixture, client_id, assertion, audience, now, Lax::default())
}

/// Checks of [`client_assertion`] that the fault catalogue can skip, one per fault; all
/// off outside it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Lax {
    pub aud: bool,
    pub exp: bool,
    pub signature: bool,
    pub alg_none: bool,
    /// Variant `assertion-kid-optional`: without a registered `kid`, try each of the
    /// client's keys of the header's alg (RFC 7515 4.1.4: `kid` is a hint).
    pub kid_optional: bool,
    /// Variant `assertion-jti-optional`: a missing `jti` is accepted (RFC 7523 3 MAY).
    pub jti_optional: bool,
}

/// The claims of a JWT read without verifying anything.
fn unverified_claims(assertion: &str) -> Option<RawClaims> {
    let payload = assertion.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Whether a JWT's header says `alg: none`.
fn alg_is_none(assertion: &str) -> bool {
    assertion
        .split('.')
        .next()
        .and_then(|h| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(h)
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|v| v.get("alg").and_then(|a| a.as_str()) == Some("none"))
}

pub(crate) fn client_assertion_lax(
    fixture: &Fixture,
    client_id: &str,
    assertion: &str,
    audience: &str,
    now: u64,
    lax: Lax,
) -> Result<AssertionClaims, ParseError> {
    let reg = &fixture.registry;
    let (_, client) = reg
        .client(client_id)
        .ok_or_else(|| ParseError::bad_auth("unknown client"))?;
    if !client.auth_jwt {
        return Err(ParseError::bad_auth(
            "this client does not authenticate with private_key_jwt",
        ));
    }
    if assertion.len() > 16 * 1024 {
        return Err(ParseError::bad_auth("client_assertion is too long"));
    }
    let (c, kid) = if lax.alg_none && alg_is_none(assertion) {
        let c = unverified_claims(assertion)
            .ok_or_else(|| ParseError::bad_auth("client_assertion claims are invalid"))?;
        (c, String::new())
    } else {
        let header = jsonwebtoken::decode_header(assertion).map_err(|_| {
            ParseError::bad_auth("client_assertion is not a JWT with a supported alg")
        })?;
        if !matches!(
            header.alg,
            Algorithm::RS256 | Algorithm::RS512 | Algorithm::ES384
        ) {
            return Err(ParseError::bad_auth(
                "client_assertion alg must be RS256, RS512 or ES384",
            ));
        }
        let named = header
            .kid
            .as_deref()
            .and_then(|kid| client.keys.iter().find(|k| *k.kid == *kid));
        let candidates: Vec<_> = match (named, lax.kid_optional) {
            (Some(key), _) => vec![key],
            (None, true) => client.keys.iter().filter(|k| k.alg == header.alg).collect(),
            (None, false) if header.kid.is_none() => {
                return Err(ParseError::bad_auth("client_assertion header lacks kid"))
            }
            (None, false) => {
                return Err(ParseError::bad_auth(
                    "client_assertion kid is not registered",
                ))
            }
        };
        if candidates.iter().any(|key| key.alg != header.alg) || candidates.is_empty() {
            return Err(ParseError::bad_auth(
                "client_assertion alg does not match the registered key",
            ));
        }
        let mut validation = Validation::new(header.alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let kid = header.kid.clone().unwrap_or_default();
        let mut verified = Err(jsonwebtoken::errors::ErrorKind::InvalidSignature.into());
        for key in candidates {
            verified = jsonwebtoken::decode::<RawClaims>(assertion, &key.key, &validation);
            if verified.is_ok() {
                break;
            }
        }
        let c = match verified {
            Ok(data) => data.claims,
            Err(_) if lax.signature => unverified_claims(assertion)
                .ok_or_else(|| ParseError::bad_auth("client_assertion claims are invalid"))?,
            Err(_) => {
                return Err(ParseError::bad_auth(
                    "client_assertion signature or claims are invalid",
                ))
            }
        };
        (c, kid)
    };
    let as_str =
        |v: &Option<serde_json::Value>| v.as_ref().and_then(|v| v.as_str().map(str::to_owned));
    let as_num = |v: &Option<serde_json::Value>| {
        v.as_ref()
            .and_then(|v| v.as_f64())
            .filter(|f| *f >= 0.0)
            .map(|f| f as u64)
    };
    if as_str(&c.iss).as_deref() != Some(client_id) || as_str(&c.sub).as_deref() != Some(client_id)
    {
        return Err(ParseError::bad_auth(
            "client_assertion iss and sub must both be the client_id (RFC 7523 3)",
        ));
    }
    let aud_ok = match &c.aud {
        Some(serde_json::Value::String(s)) => s == audience,
        Some(serde_json::Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(audience)),
        _ => false,
    };
    if !aud_ok && !lax.aud {
        return Err(ParseError::bad_auth(
            "client_assertion aud must be the token endpoint URL exactly",
        ));
    }
    let exp = as_num(&c.exp)
        .ok_or_else(|| ParseError::bad_auth("client_assertion lacks a numeric exp"))?;
    let iat = as_num(&c.iat)
        .ok_or_else(|| ParseError::bad_auth("client_assertion lacks a numeric iat"))?;
    if exp <= now && !lax.exp {
        return Err(ParseError::bad_auth("client_assertion is expired"));
    }
    if iat > now + SKEW_SECONDS {
        return Err(ParseError::bad_auth(
            "client_assertion iat is in the future",
        ));
    }
    if let Some(nbf) = as_num(&c.nbf) {
        if nbf > now + SKEW_SECONDS {
            return Err(ParseError::bad_auth(
                "client_assertion is not valid yet (nbf)",
            ));
        }
    } else if c.nbf.is_some() {
        return Err(ParseError::bad_auth("client_assertion nbf must be numeric"));
    }
    let max = reg.max_assertion_lifetime;
    if exp < iat || exp - iat > max || exp.saturating_sub(now) > max + SKEW_SECONDS {
        return Err(ParseError::bad_auth(
            "client_assertion lifetime exceeds the maximum (exp - iat)",
        ));
    }
    let jti = match as_str(&c.jti).filter(|j| !j.is_empty() && j.len() <= 256) {
        Some(jti) => jti,
        None if lax.jti_optional && c.jti.is_none() => String::new(),
        None => return Err(ParseError::bad_auth("client_assertion lacks a jti")),
    };
    Ok(AssertionClaims {
        client_id: client_id.to_owned(),
        jti,
        exp,
        iat,
        kid,
    })
}

/// The client_id an assertion claims (its `iss`), read without verification, for
/// requests that name the client only inside the assertion (RFC 7523 3.1 makes client_id
/// optional).
pub fn assertion_issuer(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("iss")?.as_str().map(str::to_owned)
}
