//! The /oauth/token and /oauth/revoke request bodies, in both encodings the spec lists
//! (JSON and form-urlencoded), read into one parameter set. Apart from the other parsers
//! because only bodies come in two encodings that must read alike, the JSON one through
//! serde visitors that borrow from the input.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use super::{form_decode, ParseError, ParseErrorKind};

/// The two body encodings the spec lists for /oauth/token and /oauth/revoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Json,
    Form,
}

/// Reads a Content-Type header value; parameters such as `charset` are ignored, anything
/// but JSON or form-urlencoded is a 415.
pub fn body_kind(content_type: Option<&str>) -> Result<BodyKind, ParseError> {
    let ct = content_type.unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(BodyKind::Json)
    } else if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        Ok(BodyKind::Form)
    } else {
        Err(ParseError {
            kind: ParseErrorKind::UnsupportedMediaType,
            detail: "send application/json or application/x-www-form-urlencoded".into(),
        })
    }
}

/// Every parameter /oauth/token and /oauth/revoke know. Values borrow from the body when
/// no unescaping was needed, so the hot client_credentials path allocates little. Empty
/// values count as absent (RFC 6749 3.1); unknown parameters are ignored (RFC 6749 3.2,
/// notes ambiguity 4).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Params<'a> {
    pub grant_type: Option<Cow<'a, str>>,
    pub client_id: Option<Cow<'a, str>>,
    pub client_secret: Option<Cow<'a, str>>,
    pub client_assertion: Option<Cow<'a, str>>,
    pub client_assertion_type: Option<Cow<'a, str>>,
    pub scope: Option<Cow<'a, str>>,
    pub code: Option<Cow<'a, str>>,
    pub redirect_uri: Option<Cow<'a, str>>,
    pub code_verifier: Option<Cow<'a, str>>,
    pub refresh_token: Option<Cow<'a, str>>,
    pub subject_token: Option<Cow<'a, str>>,
    pub subject_token_type: Option<Cow<'a, str>>,
    pub purpose: Option<Cow<'a, str>>,
    /// `user_lookup.field` (JSON) or `user_lookup[field]` (form, notes ambiguity 12).
    pub user_lookup_field: Option<Cow<'a, str>>,
    pub user_lookup_value: Option<Cow<'a, str>>,
    /// Whether `user_lookup` was present at all (even as an empty object).
    pub user_lookup_present: bool,
    pub token: Option<Cow<'a, str>>,
    pub token_type_hint: Option<Cow<'a, str>>,
}

/// A /oauth/token request body.
pub type TokenRequest<'a> = Params<'a>;

/// A /oauth/revoke request body (RFC 7009 2.1).
pub type RevokeRequest<'a> = Params<'a>;

#[derive(Clone, Copy)]
enum Param {
    GrantType,
    ClientId,
    ClientSecret,
    ClientAssertion,
    ClientAssertionType,
    Scope,
    Code,
    RedirectUri,
    CodeVerifier,
    RefreshToken,
    SubjectToken,
    SubjectTokenType,
    Purpose,
    LookupKind,
    LookupTarget,
    Token,
    TokenTypeHint,
}

impl Param {
    fn from_name(name: &str, form: bool) -> Option<Param> {
        Some(match name {
            "grant_type" => Param::GrantType,
            "client_id" => Param::ClientId,
            "client_secret" => Param::ClientSecret,
            "client_assertion" => Param::ClientAssertion,
            "client_assertion_type" => Param::ClientAssertionType,
            "scope" => Param::Scope,
            "code" => Param::Code,
            "redirect_uri" => Param::RedirectUri,
            "code_verifier" => Param::CodeVerifier,
            "refresh_token" => Param::RefreshToken,
            "subject_token" => Param::SubjectToken,
            "subject_token_type" => Param::SubjectTokenType,
            "purpose" => Param::Purpose,
            "token" => Param::Token,
            "token_type_hint" => Param::TokenTypeHint,
            "user_lookup[field]" if form => Param::LookupKind,
            "user_lookup[value]" if form => Param::LookupTarget,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Param::GrantType => "grant_type",
            Param::ClientId => "client_id",
            Param::ClientSecret => "client_secret",
            Param::ClientAssertion => "client_assertion",
            Param::ClientAssertionType => "client_assertion_type",
            Param::Scope => "scope",
            Param::Code => "code",
            Param::RedirectUri => "redirect_uri",
            Param::CodeVerifier => "code_verifier",
            Param::RefreshToken => "refresh_token",
            Param::SubjectToken => "subject_token",
            Param::SubjectTokenType => "subject_token_type",
            Param::Purpose => "purpose",
            Param::LookupKind => "user_lookup.field",
            Param::LookupTarget => "user_lookup.value",
            Param::Token => "token",
            Param::TokenTypeHint => "token_type_hint",
        }
    }
}

impl<'a> Params<'a> {
    fn slot(&mut self, f: Param) -> &mut Option<Cow<'a, str>> {
        match f {
            Param::GrantType => &mut self.grant_type,
            Param::ClientId => &mut self.client_id,
            Param::ClientSecret => &mut self.client_secret,
            Param::ClientAssertion => &mut self.client_assertion,
            Param::ClientAssertionType => &mut self.client_assertion_type,
            Param::Scope => &mut self.scope,
            Param::Code => &mut self.code,
            Param::RedirectUri => &mut self.redirect_uri,
            Param::CodeVerifier => &mut self.code_verifier,
            Param::RefreshToken => &mut self.refresh_token,
            Param::SubjectToken => &mut self.subject_token,
            Param::SubjectTokenType => &mut self.subject_token_type,
            Param::Purpose => &mut self.purpose,
            Param::LookupKind => &mut self.user_lookup_field,
            Param::LookupTarget => &mut self.user_lookup_value,
            Param::Token => &mut self.token,
            Param::TokenTypeHint => &mut self.token_type_hint,
        }
    }

    /// Stores a value; a repeated parameter is an error (RFC 6749 3.1/3.2: "MUST NOT be
    /// included more than once"), even when one of the copies is empty.
    fn set(&mut self, f: Param, seen: &mut u32, v: Cow<'a, str>) -> Result<(), ParseError> {
        let bit = 1u32 << (f as u32);
        if *seen & bit != 0 {
            return Err(ParseError::malformed(format!(
                "parameter {} is repeated (RFC 6749 3.2)",
                f.name()
            )));
        }
        *seen |= bit;
        if !v.is_empty() {
            *self.slot(f) = Some(v);
        }
        Ok(())
    }
}

/// Parses a /oauth/token body of the given Content-Type.
pub fn token_request<'a>(
    content_type: Option<&str>,
    body: &'a [u8],
) -> Result<TokenRequest<'a>, ParseError> {
    params(body_kind(content_type)?, body)
}

/// Parses a /oauth/revoke body of the given Content-Type. `token` is required (RFC 7009
/// 2.1, notes ambiguity 13).
pub fn revoke_request<'a>(
    content_type: Option<&str>,
    body: &'a [u8],
) -> Result<RevokeRequest<'a>, ParseError> {
    let p = params(body_kind(content_type)?, body)?;
    if p.token.is_none() {
        return Err(ParseError::malformed("token is required (RFC 7009 2.1)"));
    }
    Ok(p)
}

/// Parses a body of a known encoding into parameters.
pub fn params(kind: BodyKind, body: &[u8]) -> Result<Params<'_>, ParseError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ParseError::malformed("the body is not valid UTF-8"))?;
    match kind {
        BodyKind::Form => form_params(text),
        BodyKind::Json => {
            let mut de = serde_json::Deserializer::from_str(text);
            let p = de
                .deserialize_map(ParamsVisitor)
                .map_err(|e| json_error(&e))?;
            de.end().map_err(|e| json_error(&e))?;
            Ok(p)
        }
    }
}

/// Describes a JSON body error by kind and position only. serde_json's own messages quote
/// input values ("invalid type: string \"...\""), so a body that is a bare JSON string
/// holding a secret would get it back in the detail; only the messages this module raises
/// itself (static text and parameter names) are passed through.
fn json_error(e: &serde_json::Error) -> ParseError {
    use serde_json::error::Category;
    let at = format!("line {} column {}", e.line(), e.column());
    let detail = match e.classify() {
        Category::Data => {
            let msg = e.to_string();
            let own = msg
                .split(" at line ")
                .next()
                .filter(|m| OWN_JSON_MESSAGES.iter().any(|p| m.starts_with(p)))
                .filter(|m| !m.contains('"') && !m.contains('`'));
            match own {
                Some(m) => format!("malformed JSON body: {m} ({at})"),
                None => format!(
                    "malformed JSON body: expected an object whose parameters are strings ({at})"
                ),
            }
        }
        Category::Eof => format!("malformed JSON body: it ends early ({at})"),
        Category::Syntax | Category::Io => format!("malformed JSON body: syntax error ({at})"),
    };
    ParseError::malformed(detail)
}

/// Prefixes of the messages raised by this module's visitors, which never hold input.
const OWN_JSON_MESSAGES: &[&str] = &["parameter ", "user_lookup "];

fn form_params(text: &str) -> Result<Params<'_>, ParseError> {
    let mut p = Params::default();
    let mut seen = 0u32;
    for pair in text.split('&').filter(|s| !s.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let key = form_decode(k)?;
        let Some(f) = Param::from_name(&key, true) else {
            continue;
        };
        if matches!(f, Param::LookupKind | Param::LookupTarget) {
            p.user_lookup_present = true;
        }
        p.set(f, &mut seen, form_decode(v)?)?;
    }
    Ok(p)
}

/// A JSON string that borrows from the input when it holds no escapes.
struct Str<'a>(Option<Cow<'a, str>>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Some(Cow::Owned(v))))
            }
            // `null` reads as "absent", like an empty form value (RFC 6749 3.1).
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Str(None))
            }
        }
        d.deserialize_any(V)
    }
}

struct ParamsVisitor;

impl<'de> Visitor<'de> for ParamsVisitor {
    type Value = Params<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object of request parameters")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut p = Params::default();
        let mut seen = 0u32;
        while let Some(key) = map.next_key::<Str<'de>>()? {
            let key = key.0.unwrap_or_default();
            if key == "user_lookup" {
                if p.user_lookup_present {
                    return Err(de::Error::custom("parameter user_lookup is repeated"));
                }
                p.user_lookup_present = true;
                let (field, value) = map.next_value_seed(UserLookupSeed)?;
                if let Some(f) = field {
                    p.set(Param::LookupKind, &mut seen, f)
                        .map_err(|e| de::Error::custom(e.detail))?;
                }
                if let Some(v) = value {
                    p.set(Param::LookupTarget, &mut seen, v)
                        .map_err(|e| de::Error::custom(e.detail))?;
                }
                continue;
            }
            match Param::from_name(&key, false) {
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
                Some(f) => {
                    let v = map.next_value::<Str<'de>>().map_err(|_| {
                        de::Error::custom(format!("parameter {} must be a string", f.name()))
                    })?;
                    match v.0 {
                        Some(v) => p.set(f, &mut seen, v),
                        None => p.set(f, &mut seen, Cow::Borrowed("")),
                    }
                    .map_err(|e| de::Error::custom(e.detail))?;
                }
            }
        }
        Ok(p)
    }
}

type LookupPair<'a> = (Option<Cow<'a, str>>, Option<Cow<'a, str>>);

struct UserLookupSeed;

impl<'de> de::DeserializeSeed<'de> for UserLookupSeed {
    type Value = LookupPair<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UserLookupSeed {
    type Value = LookupPair<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("user_lookup as an object {field, value}")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut field = None;
        let mut value = None;
        while let Some(key) = map.next_key::<Str<'de>>()? {
            let slot = match key.0.as_deref() {
                Some("field") => &mut field,
                Some("value") => &mut value,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            if slot.is_some() {
                return Err(de::Error::custom("user_lookup has a repeated member"));
            }
            let v = map
                .next_value::<Str<'de>>()
                .map_err(|_| de::Error::custom("user_lookup members must be strings"))?;
            *slot = Some(v.0.unwrap_or_default());
        }
        Ok((field, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_and_json_agree() {
        let f = token_request(
            Some("application/x-www-form-urlencoded"),
            b"grant_type=client_credentials&client_id=a&scope=x+y&extra=1",
        )
        .unwrap();
        let j = token_request(
            Some("application/json; charset=utf-8"),
            br#"{"grant_type":"client_credentials","client_id":"a","scope":"x y","extra":[1]}"#,
        )
        .unwrap();
        assert_eq!(f, j);
        assert_eq!(f.scope.as_deref(), Some("x y"));
    }

    #[test]
    fn repeats_are_refused() {
        assert!(
            token_request(Some("application/x-www-form-urlencoded"), b"code=a&code=b").is_err()
        );
        assert!(token_request(Some("application/json"), br#"{"code":"a","code":"b"}"#).is_err());
    }

    #[test]
    fn user_lookup_both_encodings() {
        let j = token_request(
            Some("application/json"),
            br#"{"user_lookup":{"field":"subject","value":"s"}}"#,
        )
        .unwrap();
        let f = token_request(
            Some("application/x-www-form-urlencoded"),
            b"user_lookup%5Bfield%5D=subject&user_lookup[value]=s",
        )
        .unwrap();
        assert_eq!(j, f);
    }
}
