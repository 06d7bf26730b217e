//! Pure request parsers: bytes or text in, a typed request or a `ParseError` out. They hold
//! no state and touch no clock or network, so fuzz targets can drive them directly; the
//! handlers call the same functions.
//!
//! One file per input: `body` the token and revoke bodies in JSON or form encoding
//! ([`token_request`], [`revoke_request`]), `authorize` the authorize query
//! ([`authorize_query`]), `basic` the HTTP Basic header ([`basic_authorization`]),
//! `assertion` the RFC 7523 client assertion ([`client_assertion`]). All of it is
//! re-exported here, so callers write `parse::X` whichever file holds it; this module keeps
//! what the parsers share: the error type and form-urlencoded decoding.

mod assertion;
mod authorize;
mod basic;
mod body;

use std::borrow::Cow;
use std::fmt;

use crate::errors::ApiError;
use crate::fixture::{Fixture, FixtureError};

pub use assertion::{assertion_issuer, client_assertion, AssertionClaims, JWT_BEARER_ASSERTION};
pub(crate) use assertion::{client_assertion_lax, Lax};
pub use authorize::{authorize_query, redirect_uri_matches, AuthorizeQuery, AuthorizeQueryError};
pub use basic::{basic_authorization, BasicCredentials};
pub use body::{
    body_kind, params, revoke_request, token_request, BodyKind, Params, RevokeRequest, TokenRequest,
};

/// What kind of input a parser refused; each maps to one `Errors` envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// Not JSON nor form-urlencoded: 415.
    UnsupportedMediaType,
    /// Syntax, types, duplicates, missing or out-of-range values: 400 invalid_request.
    Malformed,
    /// A client authentication credential that cannot be read or fails its checks: 401
    /// invalid_client (RFC 6749 5.2).
    BadClientAuth,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub kind: ParseErrorKind,
    /// Names the parameter at fault, never its value.
    pub detail: Cow<'static, str>,
}

impl ParseError {
    fn malformed(detail: impl Into<Cow<'static, str>>) -> ParseError {
        ParseError {
            kind: ParseErrorKind::Malformed,
            detail: detail.into(),
        }
    }
    fn bad_auth(detail: impl Into<Cow<'static, str>>) -> ParseError {
        ParseError {
            kind: ParseErrorKind::BadClientAuth,
            detail: detail.into(),
        }
    }

    /// The `Errors` envelope this error is answered with.
    pub fn to_api_error(&self) -> ApiError {
        match self.kind {
            ParseErrorKind::UnsupportedMediaType => ApiError::unsupported_media_type(),
            ParseErrorKind::Malformed => ApiError::invalid_request(self.detail.clone()),
            ParseErrorKind::BadClientAuth => ApiError::invalid_client(self.detail.clone()),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for ParseError {}

impl From<ParseError> for ApiError {
    fn from(e: ParseError) -> ApiError {
        e.to_api_error()
    }
}

/// application/x-www-form-urlencoded decoding of one component: `+` is a space, `%XX` a
/// byte; the result must be UTF-8. Borrows when nothing needs decoding.
pub fn form_decode(s: &str) -> Result<Cow<'_, str>, ParseError> {
    if !s.bytes().any(|b| b == b'+' || b == b'%') {
        return Ok(Cow::Borrowed(s));
    }
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() && hex(b[i + 1]).is_some() && hex(b[i + 2]).is_some() => {
                out.push(hex(b[i + 1]).unwrap() * 16 + hex(b[i + 2]).unwrap());
                i += 2;
            }
            // A stray `%` stays literal, as browsers and the WHATWG URL parser do.
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| ParseError::malformed("a percent-encoded value is not valid UTF-8"))
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Loads a fixture from its JSON text (errors name the JSON path of the bad field).
pub fn fixture(json: &str) -> Result<Fixture, FixtureError> {
    Fixture::from_json(json)
}
