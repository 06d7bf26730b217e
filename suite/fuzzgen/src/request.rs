//! The structure-aware request: what `arbitrary` decodes fuzz bytes into, and its rendering.
//!
//! `Arbitrary` is implemented by hand with one byte per decision and length-prefixed text,
//! instead of derived, for one reason: [`FuzzRequest::to_bytes`] must be its exact inverse,
//! so that requests taken from the case catalogue become seed inputs of the router target.
//! A derived impl's byte layout is an implementation detail of the `arbitrary` crate.

use arbitrary::{Arbitrary, Result as ArbResult, Unstructured};
use base64::Engine as _;

use crate::tokens;
use crate::vocabulary::Vocabulary;

/// Longest text a single decision can carry; bodies grow by repetition instead.
const MAX_TEXT: usize = 4096;
const MAX_PAIRS: u8 = 16;
const MAX_WORDS: u8 = 8;

/// One word of a request: a known token, or free text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Atom {
    /// Index into the token table ([`TokenTable`]), taken modulo its length.
    Token(u8),
    Text(String),
}

/// A value: one atom, or several joined by a separator (scope lists, comma lists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    One(Atom),
    Words(Vec<Atom>, Separator),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Separator {
    Space,
    Plus,
    Comma,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
    Patch,
    Head,
    Options,
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Path {
    /// Index into [`tokens::PATHS`].
    Known(u8),
    Other(Piece),
}

/// How query pairs are written: encoded as a form would, or raw the way some SDKs send them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryStyle {
    Form,
    Raw,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    /// `Basic base64(user:pass)`, the parts form-encoded first when the flag says so.
    Basic(Piece, Piece, bool),
    Bearer(Piece),
    Raw(Piece),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentType {
    /// The type that matches the body (none for an empty body).
    Matching,
    Omitted,
    Given(Piece),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Json {
    Str(Piece),
    Int(i32),
    Bool(bool),
    Null,
    Array(Vec<Piece>),
    Object(Vec<(Piece, Piece)>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Empty,
    Form(Vec<(Piece, Piece)>),
    Json(Vec<(Piece, Json)>),
    Raw(Piece),
    /// A piece repeated, for size limits, without spending fuzz bytes on length.
    Repeat(Piece, u16),
}

/// A whole HTTP request in structured form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuzzRequest {
    pub method: Method,
    pub path: Path,
    pub query_style: QueryStyle,
    pub query: Vec<(Piece, Piece)>,
    pub headers: Vec<(Piece, Piece)>,
    pub auth: Auth,
    pub content_type: ContentType,
    pub body: Body,
}

/// A rendered request, ready for an in-process router or a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub path: String,
    /// Without the `?`; `None` when the request has no query.
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpRequest {
    /// Path and query as they go on the request line.
    pub fn path_and_query(&self) -> String {
        match &self.query {
            Some(query) => format!("{}?{}", self.path, query),
            None => self.path.clone(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

fn byte(u: &mut Unstructured) -> ArbResult<u8> {
    u8::arbitrary(u)
}

fn text(u: &mut Unstructured) -> ArbResult<String> {
    // One length byte; 0xFF escapes to a two-byte length. Short texts are the common case,
    // so random bytes do not spend the whole input on one string.
    let len = match byte(u)? {
        0xFF => u16::from_le_bytes([byte(u)?, byte(u)?]) as usize,
        short => short as usize,
    };
    let len = len.min(MAX_TEXT).min(u.len());
    let mut value = String::from_utf8_lossy(u.bytes(len)?).into_owned();
    // Replacement characters can make the text longer than its bytes; keep it encodable.
    let mut end = value.len().min(MAX_TEXT);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    value.truncate(end);
    Ok(value)
}

fn put_text(out: &mut Vec<u8>, value: &str) {
    let mut end = value.len().min(MAX_TEXT);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    let bytes = &value.as_bytes()[..end];
    if bytes.len() < 0xFF {
        out.push(bytes.len() as u8);
    } else {
        out.push(0xFF);
        out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
    }
    out.extend_from_slice(bytes);
}

impl<'a> Arbitrary<'a> for Atom {
    fn arbitrary(u: &mut Unstructured<'a>) -> ArbResult<Self> {
        // Three in four atoms are tokens: random text rarely means anything to a parser.
        Ok(match byte(u)? % 4 {
            3 => Atom::Text(text(u)?),
            _ => Atom::Token(byte(u)?),
        })
    }
}

impl Atom {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Atom::Token(index) => out.extend([0, *index]),
            Atom::Text(value) => {
                out.push(3);
                put_text(out, value);
            }
        }
    }
}

impl<'a> Arbitrary<'a> for Piece {
    fn arbitrary(u: &mut Unstructured<'a>) -> ArbResult<Self> {
        let tag = byte(u)?;
        if tag % 4 != 3 {
            return Ok(Piece::One(Atom::arbitrary(u)?));
        }
        let separator = match (tag >> 2) % 4 {
            0 => Separator::Space,
            1 => Separator::Plus,
            2 => Separator::Comma,
            _ => Separator::None,
        };
        let count = byte(u)? % MAX_WORDS;
        let mut words = Vec::with_capacity(count as usize);
        for _ in 0..count {
            words.push(Atom::arbitrary(u)?);
        }
        Ok(Piece::Words(words, separator))
    }
}

impl Piece {
    /// Free text as a piece, for requests taken from case files.
    pub fn text(value: impl Into<String>) -> Self {
        Piece::One(Atom::Text(value.into()))
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Piece::One(atom) => {
                out.push(0);
                atom.encode(out);
            }
            Piece::Words(words, separator) => {
                let sep = match separator {
                    Separator::Space => 0,
                    Separator::Plus => 1,
                    Separator::Comma => 2,
                    Separator::None => 3,
                };
                let count = words.len().min(MAX_WORDS as usize - 1);
                out.extend([3 | (sep << 2), count as u8]);
                for word in &words[..count] {
                    word.encode(out);
                }
            }
        }
    }
}

fn pairs(u: &mut Unstructured) -> ArbResult<Vec<(Piece, Piece)>> {
    let count = byte(u)? % MAX_PAIRS;
    let mut out = Vec::with_capacity(count as usize);
    for _ in 0..count {
        out.push((Piece::arbitrary(u)?, Piece::arbitrary(u)?));
    }
    Ok(out)
}

fn put_pairs(out: &mut Vec<u8>, items: &[(Piece, Piece)]) {
    let count = items.len().min(MAX_PAIRS as usize - 1);
    out.push(count as u8);
    for (key, value) in &items[..count] {
        key.encode(out);
        value.encode(out);
    }
}

impl<'a> Arbitrary<'a> for Json {
    fn arbitrary(u: &mut Unstructured<'a>) -> ArbResult<Self> {
        Ok(match byte(u)? % 8 {
            0..=2 => Json::Str(Piece::arbitrary(u)?),
            3 => Json::Int(i32::from_le_bytes([byte(u)?, byte(u)?, byte(u)?, byte(u)?])),
            4 => Json::Bool(byte(u)? & 1 == 1),
            5 => Json::Null,
            6 => {
                let count = byte(u)? % MAX_WORDS;
                let mut items = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    items.push(Piece::arbitrary(u)?);
                }
                Json::Array(items)
            }
            _ => Json::Object(pairs(u)?),
        })
    }
}

impl Json {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Json::Str(piece) => {
                out.push(0);
                piece.encode(out);
            }
            Json::Int(value) => {
                out.push(3);
                out.extend(value.to_le_bytes());
            }
            Json::Bool(value) => out.extend([4, u8::from(*value)]),
            Json::Null => out.push(5),
            Json::Array(items) => {
                let count = items.len().min(MAX_WORDS as usize - 1);
                out.extend([6, count as u8]);
                for item in &items[..count] {
                    item.encode(out);
                }
            }
            Json::Object(items) => {
                out.push(7);
                put_pairs(out, items);
            }
        }
    }
}

impl<'a> Arbitrary<'a> for FuzzRequest {
    fn arbitrary(u: &mut Unstructured<'a>) -> ArbResult<Self> {
        let method = match byte(u)? % 10 {
            0 | 1 => Method::Get,
            2..=4 => Method::Post,
            5 => Method::Put,
            6 => Method::Delete,
            7 => Method::Patch,
            8 => match byte(u)? % 2 {
                0 => Method::Head,
                _ => Method::Options,
            },
            _ => Method::Other(text(u)?),
        };
        let path = match byte(u)? {
            tag if tag < 0xF0 => Path::Known(tag),
            _ => Path::Other(Piece::arbitrary(u)?),
        };
        let query_style = if byte(u)? & 1 == 0 {
            QueryStyle::Form
        } else {
            QueryStyle::Raw
        };
        let query = pairs(u)?;
        let headers = pairs(u)?;
        let auth = match byte(u)? % 6 {
            0 | 1 => Auth::None,
            2 | 3 => {
                let user = Piece::arbitrary(u)?;
                let pass = Piece::arbitrary(u)?;
                Auth::Basic(user, pass, byte(u)? & 1 == 1)
            }
            4 => Auth::Bearer(Piece::arbitrary(u)?),
            _ => Auth::Raw(Piece::arbitrary(u)?),
        };
        let content_type = match byte(u)? % 4 {
            0 | 1 => ContentType::Matching,
            2 => ContentType::Omitted,
            _ => ContentType::Given(Piece::arbitrary(u)?),
        };
        let body = match byte(u)? % 8 {
            0 => Body::Empty,
            1..=3 => Body::Form(pairs(u)?),
            4..=6 => {
                let count = byte(u)? % MAX_PAIRS;
                let mut members = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    members.push((Piece::arbitrary(u)?, Json::arbitrary(u)?));
                }
                Body::Json(members)
            }
            _ => match byte(u)? % 4 {
                3 => Body::Repeat(
                    Piece::arbitrary(u)?,
                    u16::from_le_bytes([byte(u)?, byte(u)?]),
                ),
                _ => Body::Raw(Piece::arbitrary(u)?),
            },
        };
        Ok(FuzzRequest {
            method,
            path,
            query_style,
            query,
            headers,
            auth,
            content_type,
            body,
        })
    }
}

impl FuzzRequest {
    /// The bytes that `arbitrary` decodes back into this request (the seed corpus format).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match &self.method {
            Method::Get => out.push(0),
            Method::Post => out.push(2),
            Method::Put => out.push(5),
            Method::Delete => out.push(6),
            Method::Patch => out.push(7),
            Method::Head => out.extend([8, 0]),
            Method::Options => out.extend([8, 1]),
            Method::Other(name) => {
                out.push(9);
                put_text(&mut out, name);
            }
        }
        match &self.path {
            Path::Known(index) => out.push(*index % 0xF0),
            Path::Other(piece) => {
                out.push(0xF0);
                piece.encode(&mut out);
            }
        }
        out.push(match self.query_style {
            QueryStyle::Form => 0,
            QueryStyle::Raw => 1,
        });
        put_pairs(&mut out, &self.query);
        put_pairs(&mut out, &self.headers);
        match &self.auth {
            Auth::None => out.push(0),
            Auth::Basic(user, pass, form_encode) => {
                out.push(2);
                user.encode(&mut out);
                pass.encode(&mut out);
                out.push(u8::from(*form_encode));
            }
            Auth::Bearer(piece) => {
                out.push(4);
                piece.encode(&mut out);
            }
            Auth::Raw(piece) => {
                out.push(5);
                piece.encode(&mut out);
            }
        }
        match &self.content_type {
            ContentType::Matching => out.push(0),
            ContentType::Omitted => out.push(2),
            ContentType::Given(piece) => {
                out.push(3);
                piece.encode(&mut out);
            }
        }
        match &self.body {
            Body::Empty => out.push(0),
            Body::Form(items) => {
                out.push(1);
                put_pairs(&mut out, items);
            }
            Body::Json(members) => {
                let count = members.len().min(MAX_PAIRS as usize - 1);
                out.extend([4, count as u8]);
                for (key, value) in &members[..count] {
                    key.encode(&mut out);
                    value.encode(&mut out);
                }
            }
            Body::Raw(piece) => {
                out.extend([7, 0]);
                piece.encode(&mut out);
            }
            Body::Repeat(piece, count) => {
                out.extend([7, 3]);
                piece.encode(&mut out);
                out.extend(count.to_le_bytes());
            }
        }
        out
    }

    /// Decodes fuzz bytes; never fails, since `arbitrary` reads zeros past the end.
    pub fn from_bytes(data: &[u8]) -> Self {
        let mut u = Unstructured::new(data);
        FuzzRequest::arbitrary(&mut u).unwrap_or_else(|_| FuzzRequest::empty())
    }

    fn empty() -> Self {
        FuzzRequest {
            method: Method::Get,
            path: Path::Known(0),
            query_style: QueryStyle::Form,
            query: Vec::new(),
            headers: Vec::new(),
            auth: Auth::None,
            content_type: ContentType::Matching,
            body: Body::Empty,
        }
    }
}

/// The words token indices refer to: protocol tokens, then the target's public identifiers.
#[derive(Debug, Clone)]
pub struct TokenTable {
    words: Vec<String>,
}

impl TokenTable {
    pub fn new(vocabulary: &Vocabulary) -> Self {
        let mut words: Vec<String> = tokens::PARAMS
            .iter()
            .chain(tokens::VALUES)
            .chain(tokens::HEADERS)
            .chain(tokens::CONTENT_TYPES)
            .map(|word| word.to_string())
            .collect();
        words.extend(vocabulary.public_words());
        TokenTable { words }
    }

    fn word(&self, index: u8) -> &str {
        &self.words[index as usize % self.words.len()]
    }

    fn atom(&self, atom: &Atom) -> String {
        match atom {
            Atom::Token(index) => self.word(*index).to_string(),
            Atom::Text(value) => value.clone(),
        }
    }

    pub fn piece(&self, piece: &Piece) -> String {
        match piece {
            Piece::One(atom) => self.atom(atom),
            Piece::Words(words, separator) => {
                let separator = match separator {
                    Separator::Space => " ",
                    Separator::Plus => "+",
                    Separator::Comma => ",",
                    Separator::None => "",
                };
                words
                    .iter()
                    .map(|word| self.atom(word))
                    .collect::<Vec<_>>()
                    .join(separator)
            }
        }
    }
}

/// Percent-encodes only what cannot stand in a URI, leaving `:/ +` and friends raw, the way
/// @qlik/api writes authorize queries (notes 1, "/oauth/authorize").
pub fn encode_raw(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        let keep = byte.is_ascii_alphanumeric() || b"-._~:/?@!$'()*+,;=&[]%".contains(&byte);
        if keep {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn header_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn header_value_ok(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
}

impl FuzzRequest {
    /// Renders the request; headers that HTTP cannot carry are dropped, never sent broken.
    pub fn render(&self, table: &TokenTable) -> HttpRequest {
        let method = match &self.method {
            Method::Get => "GET".to_string(),
            Method::Post => "POST".to_string(),
            Method::Put => "PUT".to_string(),
            Method::Delete => "DELETE".to_string(),
            Method::Patch => "PATCH".to_string(),
            Method::Head => "HEAD".to_string(),
            Method::Options => "OPTIONS".to_string(),
            Method::Other(name) => {
                let name: String = name
                    .chars()
                    .filter(char::is_ascii_uppercase)
                    .take(16)
                    .collect();
                if name.is_empty() {
                    "PROPFIND".to_string()
                } else {
                    name
                }
            }
        };
        let path = match &self.path {
            Path::Known(index) => tokens::PATHS[*index as usize % tokens::PATHS.len()].to_string(),
            Path::Other(piece) => {
                let raw = encode_raw(&table.piece(piece)).replace('?', "%3F");
                format!("/{}", raw.trim_start_matches('/'))
            }
        };
        let query = if self.query.is_empty() {
            None
        } else {
            Some(match self.query_style {
                QueryStyle::Form => {
                    let mut form = form_urlencoded::Serializer::new(String::new());
                    for (key, value) in &self.query {
                        form.append_pair(&table.piece(key), &table.piece(value));
                    }
                    form.finish()
                }
                QueryStyle::Raw => self
                    .query
                    .iter()
                    .map(|(key, value)| {
                        format!(
                            "{}={}",
                            encode_raw(&table.piece(key)),
                            encode_raw(&table.piece(value))
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("&"),
            })
        };
        let mut headers = Vec::new();
        for (name, value) in &self.headers {
            let name = table.piece(name).to_ascii_lowercase();
            let value = table.piece(value);
            // Framing headers are the transport's business; a wrong one only breaks the socket.
            let framing = matches!(
                name.as_str(),
                "content-length" | "transfer-encoding" | "host"
            );
            if header_name_ok(&name) && header_value_ok(&value) && !framing {
                headers.push((name, value));
            }
        }
        let authorization = match &self.auth {
            Auth::None => None,
            Auth::Basic(user, pass, form_encode) => {
                let (user, pass) = (table.piece(user), table.piece(pass));
                let (user, pass) = if *form_encode {
                    (form_encode_part(&user), form_encode_part(&pass))
                } else {
                    (user, pass)
                };
                let encoded =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
                Some(format!("Basic {encoded}"))
            }
            Auth::Bearer(piece) => Some(format!("Bearer {}", table.piece(piece))),
            Auth::Raw(piece) => Some(table.piece(piece)),
        };
        if let Some(value) = authorization.filter(|value| header_value_ok(value)) {
            headers.retain(|(name, _)| name != "authorization");
            headers.push(("authorization".to_string(), value));
        }
        let (body, matching_type) = match &self.body {
            Body::Empty => (String::new(), None),
            Body::Form(items) => {
                let mut form = form_urlencoded::Serializer::new(String::new());
                for (key, value) in items {
                    form.append_pair(&table.piece(key), &table.piece(value));
                }
                (form.finish(), Some("application/x-www-form-urlencoded"))
            }
            Body::Json(members) => {
                let mut object = serde_json::Map::new();
                for (key, value) in members {
                    object.insert(table.piece(key), json_value(table, value));
                }
                (
                    serde_json::Value::Object(object).to_string(),
                    Some("application/json"),
                )
            }
            Body::Raw(piece) => (table.piece(piece), None),
            Body::Repeat(piece, count) => {
                // Enough to cross the fixture's 64 KiB body limit, capped to stay fast.
                let unit = table.piece(piece);
                let count = (*count as usize).min(256 * 1024 / unit.len().max(1));
                (unit.repeat(count), None)
            }
        };
        let content_type = match &self.content_type {
            ContentType::Matching => matching_type.map(str::to_string),
            ContentType::Omitted => None,
            ContentType::Given(piece) => Some(table.piece(piece)),
        };
        if let Some(value) = content_type.filter(|value| header_value_ok(value)) {
            headers.retain(|(name, _)| name != "content-type");
            headers.push(("content-type".to_string(), value));
        }
        HttpRequest {
            method,
            path,
            query,
            headers,
            body,
        }
    }
}

fn form_encode_part(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn json_value(table: &TokenTable, value: &Json) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Json::Str(piece) => Value::String(table.piece(piece)),
        Json::Int(number) => Value::from(*number),
        Json::Bool(flag) => Value::Bool(*flag),
        Json::Null => Value::Null,
        Json::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| Value::String(table.piece(item)))
                .collect(),
        ),
        Json::Object(items) => Value::Object(
            items
                .iter()
                .map(|(key, value)| (table.piece(key), Value::String(table.piece(value))))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo_random(seed: u64, len: usize) -> Vec<u8> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    }

    #[test]
    fn encoding_is_the_inverse_of_decoding() {
        for seed in 0..2000 {
            let data = pseudo_random(seed, (seed as usize * 7) % 900);
            let request = FuzzRequest::from_bytes(&data);
            let again = FuzzRequest::from_bytes(&request.to_bytes());
            assert_eq!(request, again, "seed {seed}");
        }
    }

    #[test]
    fn rendering_keeps_every_header_sendable() {
        let table = TokenTable::new(&Vocabulary::default_fixture());
        for seed in 0..2000 {
            let request = FuzzRequest::from_bytes(&pseudo_random(seed, 600)).render(&table);
            let uri = request.path_and_query();
            assert!(uri.parse::<http::Uri>().is_ok(), "unparsable {uri:?}");
            for (name, value) in &request.headers {
                assert!(
                    http::HeaderName::from_bytes(name.as_bytes()).is_ok(),
                    "{name:?}"
                );
                assert!(http::HeaderValue::from_str(value).is_ok(), "{value:?}");
            }
        }
    }

    #[test]
    fn raw_query_keeps_urls_unencoded_but_escapes_spaces() {
        assert_eq!(
            encode_raw("https://a.example/cb x"),
            "https://a.example/cb%20x"
        );
    }
}
