//! HTTP Basic client credentials (RFC 6749 2.3.1) from an Authorization header. Apart
//! because its failures are client authentication failures (401), not malformed requests.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::{form_decode, ParseError};

/// Client credentials from an `Authorization: Basic` header (RFC 6749 2.3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicCredentials {
    pub client_id: String,
    pub client_secret: String,
}

/// Reads an Authorization header value. `Ok(None)` for other schemes (a revoke call may
/// carry `Bearer`, notes section 1). The id and secret are form-urlencoded before base64
/// (RFC 6749 2.3.1), so they are form-decoded here; clients that skip the encoding
/// ([TS], [PY]) send plain values that decode to themselves.
pub fn basic_authorization(value: &[u8]) -> Result<Option<BasicCredentials>, ParseError> {
    let value = std::str::from_utf8(value)
        .map_err(|_| ParseError::bad_auth("the Authorization header is not valid UTF-8"))?
        .trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = STANDARD
        .decode(rest.trim())
        .map_err(|_| ParseError::bad_auth("the Basic credentials are not valid base64"))?;
    let text = String::from_utf8(decoded)
        .map_err(|_| ParseError::bad_auth("the Basic credentials are not valid UTF-8"))?;
    let (id, secret) = text
        .split_once(':')
        .ok_or_else(|| ParseError::bad_auth("the Basic credentials lack a ':' separator"))?;
    let client_id = form_decode(id)
        .map_err(|_| ParseError::bad_auth("the Basic client id is not valid form-encoding"))?
        .into_owned();
    let client_secret = form_decode(secret)
        .map_err(|_| ParseError::bad_auth("the Basic secret is not valid form-encoding"))?
        .into_owned();
    if client_id.is_empty() {
        return Err(ParseError::bad_auth("the Basic client id is empty"));
    }
    Ok(Some(BasicCredentials {
        client_id,
        client_secret,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_is_form_decoded() {
        let v = format!("Basic {}", STANDARD.encode("a%3Ab:s+c%25"));
        let c = basic_authorization(v.as_bytes()).unwrap().unwrap();
        assert_eq!(c.client_id, "a:b");
        assert_eq!(c.client_secret, "s c%");
        assert_eq!(basic_authorization(b"Bearer x").unwrap(), None);
        assert!(basic_authorization(b"Basic !!").is_err());
    }
}
