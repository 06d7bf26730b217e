//! Where the variants (see [`crate::variants`]) change what a request means before the
//! handlers read it, and what a refusal's status is after they decide. The reference
//! itself (no variant on) passes everything through untouched and allocates nothing.

use std::borrow::Cow;

use axum::http::StatusCode;
use bytes::Bytes;

use crate::app::AppState;
use crate::errors::ApiError;
use crate::parse::{self, BodyKind};
use crate::variants::Variant;

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

/// The body as the variants read it: its media type sniffed when the declared one is not
/// JSON or form (`media-type-sniffed`), repeated form parameters reduced to their first copy
/// (`duplicate-first-wins`), and a JSON `user_lookup` string in a form spelled out as
/// `user_lookup[field]`/`[value]` (`user-lookup-json-string`).
pub(crate) fn body<'h>(
    s: &AppState,
    content_type: Option<&'h str>,
    bytes: Bytes,
) -> (Option<Cow<'h, str>>, Bytes) {
    let mut ct = content_type.map(Cow::Borrowed);
    if s.varies(Variant::MediaTypeSniffed) && parse::body_kind(content_type).is_err() {
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        ct = Some(Cow::Borrowed(if matches!(first, Some(b'{' | b'[')) {
            JSON
        } else {
            FORM
        }));
    }
    let form = parse::body_kind(ct.as_deref()) == Ok(BodyKind::Form);
    let first_wins = s.varies(Variant::DuplicateFirstWins);
    let lookup = s.varies(Variant::UserLookupJsonString);
    if !form || !(first_wins || lookup) {
        return (ct, bytes);
    }
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return (ct, bytes);
    };
    let mut pairs: Vec<Cow<'_, str>> = Vec::new();
    let mut seen: Vec<Cow<'_, str>> = Vec::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let Ok(key) = parse::form_decode(k) else {
            pairs.push(Cow::Borrowed(pair));
            continue;
        };
        if first_wins {
            if seen.contains(&key) {
                continue;
            }
            seen.push(key.clone());
        }
        match spelled_out_lookup(&key, v) {
            Some(spelled) if lookup => pairs.push(Cow::Owned(spelled)),
            _ => pairs.push(Cow::Borrowed(pair)),
        }
    }
    let rebuilt = pairs.join("&");
    (ct, Bytes::from(rebuilt))
}

/// `user_lookup={"field":"subject","value":"x"}` as the two bracketed form parameters.
fn spelled_out_lookup(key: &str, value: &str) -> Option<String> {
    if key != "user_lookup" {
        return None;
    }
    let decoded = parse::form_decode(value).ok()?;
    let v: serde_json::Value = serde_json::from_str(&decoded).ok()?;
    let field = v.get("field")?.as_str()?;
    let value = v.get("value")?.as_str()?;
    let enc = |t: &str| form_urlencoded::byte_serialize(t.as_bytes()).collect::<String>();
    Some(format!(
        "user_lookup%5Bfield%5D={}&user_lookup%5Bvalue%5D={}",
        enc(field),
        enc(value)
    ))
}

/// The authorization query as the variants read it: first copy of a repeated parameter
/// (`duplicate-first-wins`).
pub(crate) fn query<'q>(s: &AppState, raw: &'q str) -> Cow<'q, str> {
    if !s.varies(Variant::DuplicateFirstWins) {
        return Cow::Borrowed(raw);
    }
    let mut seen: Vec<Cow<'_, str>> = Vec::new();
    let mut kept: Vec<&str> = Vec::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let k = pair.split_once('=').map_or(pair, |(k, _)| k);
        let key = parse::form_decode(k).unwrap_or(Cow::Borrowed(k));
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        kept.push(pair);
    }
    Cow::Owned(kept.join("&"))
}

/// The status of a token endpoint refusal under the variants: 403 for `unauthorized_client`
/// (`unauthorized-client-403`, a status the spec lists), 400 for `invalid_grant`
/// (`invalid-grant-400`, RFC 6749 5.2's default).
pub(crate) fn refusal_status(s: &AppState, mut e: ApiError) -> ApiError {
    if e.error == "unauthorized_client" && s.varies(Variant::Forbidden403) {
        e.status = StatusCode::FORBIDDEN;
    }
    if e.error == "invalid_grant"
        && e.status == StatusCode::UNAUTHORIZED
        && s.varies(Variant::InvalidGrant400)
    {
        e.status = StatusCode::BAD_REQUEST;
    }
    e
}
