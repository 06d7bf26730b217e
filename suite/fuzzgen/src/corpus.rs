//! Seed corpora from the case catalogue, and the libFuzzer dictionary.
//!
//! Seeds follow the catalogue: every request a case sends becomes an input of each target
//! that parses part of it, so a new case widens fuzzing without anyone touching `fuzz/`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::request::{self, Atom, Auth, Body, ContentType, FuzzRequest, Piece, QueryStyle};
use crate::targets::{ASSERTION_AUDIENCE, ASSERTION_CLIENTS, ASSERTION_NOW};
use crate::tokens;
use crate::vocabulary::Vocabulary;

/// Longest seed text kept: repetition generators ask for megabytes, libFuzzer wants kilobytes.
const MAX_SEED_TEXT: usize = 8192;

/// Seeds per target name.
pub type Seeds = BTreeMap<&'static str, BTreeSet<Vec<u8>>>;

/// Why the catalogue could not be read or the seeds could not be written.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Only the reference profile must parse: it names every value the templates expand to.
    /// A case file that does not parse is skipped; `qoauth run` reports it.
    #[error("{} is not JSON", path.display())]
    NotJson {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot list {}", path.display())]
    List {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create {}", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Values templates resolve to while seeding: the profile names of the suite's reference
/// profile, `let` bindings of the case, and stand-ins for captures (unknown before a run).
struct Bindings {
    values: BTreeMap<String, Value>,
    keys_dir: PathBuf,
    profile: Value,
}

impl Bindings {
    fn new(profile: &Value, keys_dir: &Path) -> Self {
        let mut values = BTreeMap::new();
        let base = profile
            .get("base_url")
            .and_then(Value::as_str)
            .unwrap_or("http://127.0.0.1:8080")
            .to_string();
        values.insert(
            "token_endpoint".into(),
            json!(format!("{base}/oauth/token")),
        );
        values.insert("base_url".into(), json!(base));
        for (section, fields) in [
            ("clients", &["id", "secret", "redirect_uri", "scope"][..]),
            ("users", &["subject", "user_id", "login_hint", "email"][..]),
        ] {
            for (role, entry) in profile
                .get(section)
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                for field in fields {
                    if let Some(value) = entry.get(*field) {
                        values.insert(format!("{section}.{role}.{field}"), value.clone());
                    }
                }
            }
        }
        for kind in ["allowed", "forbidden"] {
            if let Some(list) = profile.pointer(&format!("/scopes/{kind}")) {
                values.insert(format!("scopes.{kind}"), list.clone());
            }
        }
        Bindings {
            values,
            keys_dir: keys_dir.to_path_buf(),
            profile: profile.clone(),
        }
    }

    fn text_of(value: &Value) -> String {
        match value {
            Value::String(text) => text.clone(),
            Value::Array(items) => items
                .iter()
                .map(Self::text_of)
                .collect::<Vec<_>>()
                .join(" "),
            other => other.to_string(),
        }
    }

    /// Expands `{{name}}`; an unknown name (a capture) becomes a stand-in of its own name.
    fn expand(&self, text: &str) -> Value {
        let trimmed = text.trim();
        if trimmed.starts_with("{{")
            && trimmed.ends_with("}}")
            && trimmed.matches("{{").count() == 1
        {
            let name = &trimmed[2..trimmed.len() - 2];
            return self
                .values
                .get(name.trim())
                .cloned()
                .unwrap_or_else(|| json!(format!("captured-{}", name.trim())));
        }
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let Some(end) = rest[start..].find("}}") else {
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let name = rest[start + 2..start + end].trim();
            match self.values.get(name) {
                Some(value) => out.push_str(&Self::text_of(value)),
                None => out.push_str(&format!("captured-{name}")),
            }
            rest = &rest[start + end + 2..];
        }
        out.push_str(rest);
        Value::String(out)
    }

    fn expand_value(&self, value: &Value) -> Value {
        match value {
            Value::String(text) => self.expand(text),
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.expand_value(v)).collect())
            }
            Value::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(key, value)| (key.clone(), self.expand_value(value)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn expand_text(&self, value: &Value) -> String {
        let mut text = Self::text_of(&self.expand_value(value));
        truncate(&mut text, MAX_SEED_TEXT);
        text
    }

    /// Evaluates one `let` generator of the case format.
    fn generate(&mut self, name: &str, generator: &Value) {
        let value = match generator {
            Value::String(template) => self.expand(template),
            Value::Object(spec) => {
                if let Some(options) = spec.get("pkce_verifier") {
                    let length = options.get("length").and_then(Value::as_u64).unwrap_or(64);
                    json!("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
                        .chars()
                        .cycle()
                        .take(length.min(4096) as usize)
                        .collect::<String>())
                } else if let Some(source) = spec.get("s256") {
                    let input = self.expand_text(source);
                    let digest = Sha256::digest(input.as_bytes());
                    json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest))
                } else if let Some(options) = spec.get("random") {
                    let length = options.get("length").and_then(Value::as_u64).unwrap_or(32);
                    json!("q7Zr3kX9"
                        .chars()
                        .cycle()
                        .take(length.min(MAX_SEED_TEXT as u64) as usize)
                        .collect::<String>())
                } else if let Some(options) = spec.get("repeat") {
                    let unit = options
                        .get("text")
                        .map(|t| self.expand_text(t))
                        .unwrap_or_default();
                    let count = options.get("count").and_then(Value::as_u64).unwrap_or(0) as usize;
                    let count = count.min(MAX_SEED_TEXT / unit.len().max(1));
                    json!(unit.repeat(count))
                } else if let Some(options) = spec.get("basic") {
                    let part = |key: &str| {
                        options
                            .get(key)
                            .map(|v| self.expand_text(v))
                            .unwrap_or_default()
                    };
                    let (user, password) = (part("user"), part("password"));
                    let encode = options
                        .get("form_encode")
                        .and_then(Value::as_bool)
                        .unwrap_or(true);
                    let (user, password) = if encode {
                        (
                            form_urlencoded::byte_serialize(user.as_bytes()).collect(),
                            form_urlencoded::byte_serialize(password.as_bytes()).collect(),
                        )
                    } else {
                        (user, password)
                    };
                    json!(format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD
                            .encode(format!("{user}:{password}"))
                    ))
                } else if let Some(options) = spec.get("client_assertion") {
                    json!(self
                        .assertion(options)
                        .unwrap_or_else(|| "eyJhbGciOiJub25lIn0.e30.".into()))
                } else if let Some(options) = spec.get("unix_time") {
                    let offset = options.get("offset").and_then(Value::as_i64).unwrap_or(0);
                    json!(ASSERTION_NOW as i64 + offset)
                } else if spec.contains_key("uuid") {
                    json!("8f14e45f-ceea-467f-a0e6-ccd1f6e1c2a1")
                } else {
                    json!("")
                }
            }
            other => other.clone(),
        };
        self.values.insert(name.to_string(), value);
    }

    /// Signs an assertion the way the case asks, for the assertion target's fixed clock.
    /// `None` (an unknown client role, no key for it, a key that does not load) still
    /// seeds: the caller puts an unsigned token in its place.
    fn assertion(&self, options: &Value) -> Option<String> {
        let role = options
            .get("client")
            .and_then(Value::as_str)
            .unwrap_or("assertion");
        let client = self.profile.pointer(&format!("/clients/{role}"))?;
        let alg = options
            .get("alg")
            .and_then(Value::as_str)
            .unwrap_or("ES384");
        let unregistered = options.get("key").and_then(Value::as_str) == Some("unregistered");
        let key_file = if unregistered {
            self.profile.pointer("/unregistered_key/key_file")
        } else if alg == "RS256" || alg == "RS512" {
            client
                .get("extra_keys")
                .and_then(Value::as_array)
                .and_then(|keys| {
                    keys.iter()
                        .find(|k| k.get("alg").and_then(Value::as_str) == Some("RS256"))
                })
                .and_then(|k| k.get("key_file"))
        } else {
            client.get("key_file")
        }
        .and_then(Value::as_str)?;
        let pem = std::fs::read(self.keys_dir.join(key_file.trim_start_matches("keys/"))).ok()?;
        let (algorithm, key) = match alg {
            "RS256" => (
                jsonwebtoken::Algorithm::RS256,
                jsonwebtoken::EncodingKey::from_rsa_pem(&pem).ok()?,
            ),
            "RS512" => (
                jsonwebtoken::Algorithm::RS512,
                jsonwebtoken::EncodingKey::from_rsa_pem(&pem).ok()?,
            ),
            "HS256" => (
                jsonwebtoken::Algorithm::HS256,
                jsonwebtoken::EncodingKey::from_secret(b"not-a-key"),
            ),
            "none" => {
                let id = client.get("id").and_then(Value::as_str).unwrap_or_default();
                let claims = json!({"iss": id, "sub": id, "aud": ASSERTION_AUDIENCE, "exp": ASSERTION_NOW + 60, "iat": ASSERTION_NOW, "jti": "seed"});
                let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
                return Some(format!(
                    "{}.{}.",
                    engine.encode(br#"{"alg":"none"}"#),
                    engine.encode(claims.to_string())
                ));
            }
            _ => (
                jsonwebtoken::Algorithm::ES384,
                jsonwebtoken::EncodingKey::from_ec_pem(&pem).ok()?,
            ),
        };
        let mut header = jsonwebtoken::Header::new(algorithm);
        let default_kid = if alg.starts_with("RS") {
            "assertion-rs256"
        } else {
            "assertion-es384"
        };
        header.kid = match options.get("kid") {
            Some(Value::Null) => None,
            Some(Value::String(kid)) => Some(kid.clone()),
            _ => Some(default_kid.to_string()),
        };
        let id = client.get("id").and_then(Value::as_str).unwrap_or_default();
        let exp_in = options.get("exp_in").and_then(Value::as_i64).unwrap_or(60);
        let iat_offset = options
            .get("iat_offset")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(id));
        claims.insert("sub".into(), json!(id));
        claims.insert("aud".into(), json!(ASSERTION_AUDIENCE));
        claims.insert("exp".into(), json!(ASSERTION_NOW as i64 + exp_in));
        claims.insert("iat".into(), json!(ASSERTION_NOW as i64 + iat_offset));
        claims.insert("jti".into(), json!("0b7d9f3c-3c43-4b8e-9a51-3f1c5d2e7a10"));
        if let Some(Value::Object(extra)) = options.get("claims") {
            for (name, value) in extra {
                claims.insert(name.clone(), self.expand_value(value));
            }
        }
        for omitted in options
            .get("omit")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(name) = omitted.as_str() {
                claims.remove(name);
            }
        }
        jsonwebtoken::encode(&header, &Value::Object(claims), &key).ok()
    }
}

fn truncate(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

/// A request of a case, with templates expanded.
struct SeedRequest {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    raw_query: Option<String>,
    headers: Vec<(String, String)>,
    content_type: Option<String>,
    body: String,
    /// Body parameters, for the assertion and redirect URI targets.
    params: Vec<(String, String)>,
}

fn pairs_of(bindings: &Bindings, value: Option<&Value>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (key, value) in value.and_then(Value::as_object).into_iter().flatten() {
        match value {
            Value::Array(items) => {
                for item in items {
                    out.push((key.clone(), bindings.expand_text(item)));
                }
            }
            other => out.push((key.clone(), bindings.expand_text(other))),
        }
    }
    out
}

fn seed_request(bindings: &Bindings, request: &Value) -> SeedRequest {
    let text = |name: &str| {
        request
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let headers = pairs_of(bindings, request.get("headers"));
    let given_type = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.clone());
    let (body, default_type, params) = if let Some(json_body) = request.get("json") {
        let expanded = bindings.expand_value(json_body);
        let params = expanded
            .as_object()
            .map(|members| {
                members
                    .iter()
                    .map(|(key, value)| (key.clone(), Bindings::text_of(value)))
                    .collect()
            })
            .unwrap_or_default();
        (expanded.to_string(), Some("application/json"), params)
    } else if request.get("form").is_some() {
        let params = pairs_of(bindings, request.get("form"));
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (key, value) in &params {
            form.append_pair(key, value);
        }
        (
            form.finish(),
            Some("application/x-www-form-urlencoded"),
            params,
        )
    } else {
        let body = request
            .get("body")
            .map(|b| bindings.expand_text(b))
            .unwrap_or_default();
        let params = form_urlencoded::parse(body.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        (body, None, params)
    };
    let mut body = body;
    truncate(&mut body, MAX_SEED_TEXT);
    SeedRequest {
        method: text("method").to_string(),
        path: text("path").to_string(),
        query: pairs_of(bindings, request.get("query")),
        raw_query: request.get("raw_query").map(|q| bindings.expand_text(q)),
        headers: headers
            .into_iter()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("content-type"))
            .collect(),
        content_type: given_type.or(default_type.map(str::to_string)),
        body,
        params,
    }
}

/// The authorize request a `login` step starts with.
fn login_request(bindings: &Bindings, login: &Value) -> SeedRequest {
    let role = login
        .get("client")
        .and_then(Value::as_str)
        .unwrap_or("public");
    let user = login
        .get("user")
        .and_then(Value::as_str)
        .unwrap_or("default");
    let lookup = |name: &str| {
        bindings
            .values
            .get(name)
            .map(Bindings::text_of)
            .unwrap_or_default()
    };
    let field = |name: &str, fallback: String| {
        login
            .get(name)
            .map(|v| bindings.expand_text(v))
            .unwrap_or(fallback)
    };
    let mut query = vec![
        ("response_type".to_string(), "code".to_string()),
        (
            "client_id".to_string(),
            lookup(&format!("clients.{role}.id")),
        ),
        (
            "redirect_uri".to_string(),
            field(
                "redirect_uri",
                lookup(&format!("clients.{role}.redirect_uri")),
            ),
        ),
        (
            "scope".to_string(),
            field("scope", lookup(&format!("clients.{role}.scope"))),
        ),
        ("state".to_string(), field("state", "xyzABC123".to_string())),
        (
            "code_challenge".to_string(),
            field(
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_string(),
            ),
        ),
        ("code_challenge_method".to_string(), "S256".to_string()),
        (
            "login_hint".to_string(),
            lookup(&format!("users.{user}.login_hint")),
        ),
    ];
    for (key, value) in pairs_of(bindings, login.get("query")) {
        query.retain(|(known, _)| *known != key);
        query.push((key, value));
    }
    SeedRequest {
        method: "GET".into(),
        path: "/oauth/authorize".into(),
        query,
        raw_query: None,
        headers: Vec::new(),
        content_type: None,
        body: String::new(),
        params: Vec::new(),
    }
}

impl SeedRequest {
    fn query_string(&self) -> Option<String> {
        if let Some(raw) = &self.raw_query {
            return Some(raw.clone());
        }
        if self.query.is_empty() {
            return None;
        }
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (key, value) in &self.query {
            form.append_pair(key, value);
        }
        Some(form.finish())
    }

    fn fuzz_request(&self) -> FuzzRequest {
        let method = match self.method.as_str() {
            "GET" => request::Method::Get,
            "POST" => request::Method::Post,
            "PUT" => request::Method::Put,
            "DELETE" => request::Method::Delete,
            "PATCH" => request::Method::Patch,
            "HEAD" => request::Method::Head,
            "OPTIONS" => request::Method::Options,
            other => request::Method::Other(other.to_string()),
        };
        let path = match tokens::PATHS.iter().position(|known| *known == self.path) {
            Some(index) => request::Path::Known(index as u8),
            None => request::Path::Other(Piece::text(self.path.clone())),
        };
        let (query_style, query) = match &self.raw_query {
            Some(raw) => (
                QueryStyle::Raw,
                raw.split('&')
                    .map(|pair| {
                        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                        (Piece::text(key), Piece::text(value))
                    })
                    .collect(),
            ),
            None => (
                QueryStyle::Form,
                self.query
                    .iter()
                    .map(|(key, value)| (Piece::text(key.clone()), Piece::text(value.clone())))
                    .collect(),
            ),
        };
        FuzzRequest {
            method,
            path,
            query_style,
            query,
            headers: self
                .headers
                .iter()
                .map(|(name, value)| (Piece::text(name.clone()), Piece::text(value.clone())))
                .collect(),
            auth: Auth::None,
            content_type: match &self.content_type {
                Some(value) => ContentType::Given(Piece::One(Atom::Text(value.clone()))),
                None => ContentType::Omitted,
            },
            body: if self.body.is_empty() {
                Body::Empty
            } else {
                Body::Raw(Piece::text(self.body.clone()))
            },
        }
    }
}

fn add_seeds(seeds: &mut Seeds, vocabulary: &Vocabulary, request: &SeedRequest) {
    let mut add = |target: &'static str, data: Vec<u8>| {
        seeds.entry(target).or_default().insert(data);
    };
    add("router", request.fuzz_request().to_bytes());
    let body_input = || {
        let mut data = request
            .content_type
            .clone()
            .unwrap_or_else(|| "-".into())
            .into_bytes();
        data.push(b'\n');
        data.extend_from_slice(request.body.as_bytes());
        data
    };
    match (request.method.as_str(), request.path.as_str()) {
        ("POST", "/oauth/token") => add("token_body", body_input()),
        ("POST", "/oauth/revoke") => add("revoke_body", body_input()),
        (_, "/oauth/authorize") => {
            if let Some(query) = request.query_string() {
                add("authorize_query", query.into_bytes());
            }
        }
        _ => {}
    }
    for (name, value) in &request.headers {
        if name.eq_ignore_ascii_case("authorization") {
            add("basic_header", value.clone().into_bytes());
        }
    }
    let all_params = request.params.iter().chain(request.query.iter());
    let client_id = all_params
        .clone()
        .find(|(key, _)| key == "client_id")
        .map(|(_, value)| value.clone());
    for (key, value) in all_params {
        if key == "client_assertion" {
            let selector = client_id
                .as_deref()
                .and_then(|id| ASSERTION_CLIENTS.iter().position(|known| *known == id))
                .unwrap_or(0);
            let mut data = vec![selector as u8];
            data.extend_from_slice(value.as_bytes());
            add("client_assertion", data);
        }
        if key == "redirect_uri" {
            let registered: Vec<&str> = vocabulary
                .clients
                .iter()
                .filter(|client| Some(&client.id) == client_id.as_ref())
                .flat_map(|client| client.redirect_uris.iter().map(String::as_str))
                .collect();
            let mut data = value.clone();
            for uri in registered {
                data.push('\n');
                data.push_str(uri);
            }
            add("redirect_uri", data.into_bytes());
        }
    }
}

/// Seeds for every target from the case files under `cases_dir` (a catalogue with a
/// `profiles/reference.json` profile and its keys), plus the fixtures in `fixtures_dir`.
pub fn seeds_from_catalogue(cases_dir: &Path, fixtures_dir: &Path) -> Result<Seeds, CorpusError> {
    let profile_path = cases_dir.join("profiles/reference.json");
    let profile: Value = serde_json::from_str(&read_text(&profile_path)?).map_err(|source| {
        CorpusError::NotJson {
            path: profile_path.clone(),
            source,
        }
    })?;
    let vocabulary = Vocabulary::default_fixture();
    let keys_dir = cases_dir.join("profiles/keys");
    let mut seeds = Seeds::new();
    let mut files = Vec::new();
    collect_json(cases_dir, &mut files)?;
    for file in files {
        let Ok(root) = serde_json::from_str::<Value>(&read_text(&file)?) else {
            continue;
        };
        for case in root
            .get("cases")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let mut bindings = Bindings::new(&profile, &keys_dir);
            for (name, generator) in case
                .get("let")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                bindings.generate(name, generator);
            }
            for step in case
                .get("steps")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let request = if let Some(request) = step.get("request") {
                    seed_request(&bindings, request)
                } else if let Some(login) = step.get("login") {
                    login_request(&bindings, login)
                } else {
                    continue;
                };
                add_seeds(&mut seeds, &vocabulary, &request);
            }
        }
    }
    let mut fixtures = Vec::new();
    collect_json(fixtures_dir, &mut fixtures)?;
    for file in fixtures {
        let input =
            std::fs::read(&file).map_err(|source| CorpusError::Read { path: file, source })?;
        seeds.entry("fixture").or_default().insert(input);
    }
    Ok(seeds)
}

fn read_text(path: &Path) -> Result<String, CorpusError> {
    std::fs::read_to_string(path).map_err(|source| CorpusError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn collect_json(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), CorpusError> {
    let listing = |source| CorpusError::List {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(listing)?
        .collect::<std::io::Result<_>>()
        .map_err(listing)?;
    entries.sort_by_key(|entry| entry.path());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            // The vendored spec and profiles are not cases.
            if !matches!(
                path.file_name().and_then(|n| n.to_str()),
                Some("openapi" | "profiles")
            ) {
                collect_json(&path, out)?;
            }
        } else if path.extension().is_some_and(|ext| ext == "json")
            && !path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().ends_with("schema.json"))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// Writes each target's seeds as `<corpus_dir>/<target>/<sha256 prefix>`; returns counts.
pub fn write_seeds(
    corpus_dir: &Path,
    seeds: &Seeds,
) -> Result<BTreeMap<&'static str, usize>, CorpusError> {
    let mut counts = BTreeMap::new();
    for (target, inputs) in seeds {
        let dir = corpus_dir.join(target);
        std::fs::create_dir_all(&dir).map_err(|source| CorpusError::CreateDir {
            path: dir.clone(),
            source,
        })?;
        for input in inputs {
            let digest = Sha256::digest(input);
            let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
            let path = dir.join(format!("seed-{name}"));
            std::fs::write(&path, input).map_err(|source| CorpusError::Write { path, source })?;
        }
        counts.insert(*target, inputs.len());
    }
    Ok(counts)
}

/// The libFuzzer dictionary: the protocol's tokens plus the default fixture's identifiers
/// (never its secrets: a mutator that cannot spell them cannot fake an echo).
pub fn dictionary() -> String {
    let mut words: BTreeSet<String> = tokens::all().map(str::to_string).collect();
    words.extend(Vocabulary::default_fixture().public_words());
    words.extend([
        "\"".to_string(),
        "{".into(),
        "}".into(),
        ":".into(),
        "\\u0000".into(),
    ]);
    let mut out = String::from(
        "# libFuzzer dictionary of the Qlik OAuth protocol: parameter names, grant types, URNs,\n\
         # header names, content types, and the default fixture's public identifiers.\n\
         # Generated by `cargo run -p qoauth-fuzzgen --bin seed-corpus`; do not edit by hand.\n",
    );
    for word in words.into_iter().filter(|w| !w.is_empty()) {
        let mut escaped = String::new();
        for byte in word.bytes() {
            match byte {
                b'"' => escaped.push_str("\\\""),
                b'\\' => escaped.push_str("\\\\"),
                0x20..=0x7e => escaped.push(byte as char),
                other => escaped.push_str(&format!("\\x{other:02X}")),
            }
        }
        out.push_str(&format!("\"{escaped}\"\n"));
    }
    out
}
