//! Pure request parsers: bytes or text in, a typed request or a `ParseError` out. They hold
//! no state and touch no clock or network, so fuzz targets can drive them directly; the
//! handlers call the same functions.

use std::borrow::Cow;
use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, Validation};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use crate::errors::ApiError;
use crate::fixture::{Fixture, FixtureError};

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

/// The parameters of GET /oauth/authorize that this server reads (spec parameters).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AuthorizeQuery {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub login_hint: Option<String>,
    pub max_age: Option<String>,
    pub prompt: Option<String>,
}

/// An authorize query that cannot be read. It keeps `client_id`, `redirect_uri` and
/// `state` when they were unambiguous, so the endpoint can still redirect the error to a
/// registered URI (RFC 6749 4.1.2.1) instead of answering with a 400 page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeQueryError {
    pub detail: String,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub state: Option<String>,
}

impl fmt::Display for AuthorizeQueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for AuthorizeQueryError {}

/// Parses a raw authorize query string the way real clients send it: `+` and `%20` are
/// spaces, `:` and `/` may arrive unencoded ([API]/[TS] do not percent-encode, notes
/// section 1 and ambiguity 7). A parameter given twice is an error (RFC 6749 3.1).
pub fn authorize_query(raw: &str) -> Result<AuthorizeQuery, AuthorizeQueryError> {
    let mut q = AuthorizeQuery::default();
    let mut seen: Vec<&'static str> = Vec::new();
    let mut repeated: Vec<&'static str> = Vec::new();
    let mut bad: Option<String> = None;
    for pair in raw.split('&').filter(|s| !s.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        // Repeats are counted on the key before the value is decoded: a copy whose value
        // is not UTF-8 was still sent, so the parameter is still ambiguous.
        let Ok(key) = form_decode(k) else {
            bad.get_or_insert_with(|| "a query parameter is not valid UTF-8".into());
            continue;
        };
        let value = form_decode(v);
        let (name, slot): (&'static str, &mut Option<String>) = match &*key {
            "client_id" => ("client_id", &mut q.client_id),
            "redirect_uri" => ("redirect_uri", &mut q.redirect_uri),
            "response_type" => ("response_type", &mut q.response_type),
            "scope" => ("scope", &mut q.scope),
            "state" => ("state", &mut q.state),
            "code_challenge" => ("code_challenge", &mut q.code_challenge),
            "code_challenge_method" => ("code_challenge_method", &mut q.code_challenge_method),
            "login_hint" => ("login_hint", &mut q.login_hint),
            "max_age" => ("max_age", &mut q.max_age),
            "prompt" => ("prompt", &mut q.prompt),
            _ => {
                if value.is_err() {
                    bad.get_or_insert_with(|| "a query parameter is not valid UTF-8".into());
                }
                continue;
            }
        };
        if seen.contains(&name) {
            if !repeated.contains(&name) {
                repeated.push(name);
            }
            continue;
        }
        seen.push(name);
        let Ok(value) = value else {
            bad.get_or_insert_with(|| "a query parameter is not valid UTF-8".into());
            continue;
        };
        // An empty value counts as absent (RFC 6749 3.1); a second copy is still a repeat.
        if !value.is_empty() {
            *slot = Some(value.into_owned());
        }
    }
    if repeated.is_empty() && bad.is_none() {
        return Ok(q);
    }
    // A repeated value is ambiguous: it is not kept, so a repeated client_id or
    // redirect_uri can never steer the error redirect.
    for name in &repeated {
        match *name {
            "client_id" => q.client_id = None,
            "redirect_uri" => q.redirect_uri = None,
            "state" => q.state = None,
            _ => {}
        }
    }
    let detail = bad.unwrap_or_else(|| {
        format!(
            "parameter {} is repeated (RFC 6749 3.1)",
            repeated.join(", ")
        )
    });
    Err(AuthorizeQueryError {
        detail,
        client_id: q.client_id,
        redirect_uri: q.redirect_uri,
        state: q.state,
    })
}

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

/// Exact redirect URI matching: simple string comparison, no normalisation, no prefix or
/// port leniency (RFC 9700 4.1.3, RFC 6749 3.1.2.3, notes ambiguity 6).
pub fn redirect_uri_matches<S: AsRef<str>>(registered: &[S], given: &str) -> bool {
    registered.iter().any(|r| r.as_ref() == given)
}

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

/// Loads a fixture from its JSON text (errors name the JSON path of the bad field).
pub fn fixture(json: &str) -> Result<Fixture, FixtureError> {
    Fixture::from_json(json)
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
        assert!(authorize_query("state=a&state=b").is_err());
        assert!(authorize_query("state=&state=b").is_err());
    }

    #[test]
    fn authorize_spaces_and_raw_urls() {
        let q = authorize_query("scope=a+b%20c&redirect_uri=https://x.example/cb?y=1").unwrap();
        assert_eq!(q.scope.as_deref(), Some("a b c"));
        assert_eq!(q.redirect_uri.as_deref(), Some("https://x.example/cb?y=1"));
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
