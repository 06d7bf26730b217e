//! `{{name}}` templates and the generators of `let` bindings. A string that is exactly
//! one template takes the bound value's JSON type; otherwise values are spliced as text.

use crate::profile::Profile;
use base64::Engine;
use serde_json::Value;
use sha2::Digest;
use std::collections::HashMap;

/// Why a template does not render or a `let` binding gives no value.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The name is the profile's, but this profile does not give it a value (cases that
    /// need one are skipped before they get here, by their capabilities).
    #[error("the profile has no value for {{{{{name}}}}}")]
    NoProfileValue { name: String },
    #[error("{{{{{name}}}}} is not bound (no let, capture or profile value of that name)")]
    Unbound { name: String },
    /// `value` is the binding as written, in JSON.
    #[error("a let binding must be a template or a generator, not {value}")]
    NotAGenerator { value: String },
    #[error("empty generator")]
    EmptyGenerator,
    #[error("unknown generator {name:?}")]
    UnknownGenerator { name: String },
    #[error("s256 takes a string, not {value}")]
    S256Input { value: String },
    #[error("the profile has no {role} client to sign an assertion for")]
    NoAssertionClient { role: String },
    #[error("the profile has no unregistered_key for this assertion")]
    NoUnregisteredKey,
    #[error("the profile's {role} client has no key_file")]
    NoKey { role: String },
    #[error("unsupported assertion alg {alg}")]
    UnsupportedAlg { alg: String },
    /// `key_alg` is the alg the profile gives the key, `alg` the one the assertion asks
    /// for: a key of the wrong family shows here.
    #[error("cannot use the {key_alg} key for {alg}")]
    Key {
        key_alg: String,
        alg: String,
        source: jsonwebtoken::errors::Error,
    },
    #[error("cannot sign the assertion with {alg}")]
    Sign {
        alg: String,
        source: jsonwebtoken::errors::Error,
    },
}

/// Template names visible at a point of a case: let-bindings and captures so far.
#[derive(Debug, Default, Clone)]
pub struct Scope {
    names: std::collections::HashSet<String>,
}

impl Scope {
    pub fn add(&mut self, name: &str) {
        self.names.insert(name.to_string());
    }
    pub fn knows(&self, name: &str) -> bool {
        self.names.contains(name) || crate::profile::is_profile_name(name)
    }
}

/// The `{{...}}` names in a string, in order.
pub fn names_in(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        out.push(after[..end].trim().to_string());
        rest = &after[end + 2..];
    }
    out
}

pub fn names_in_value(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.extend(names_in(s)),
        Value::Array(a) => a.iter().for_each(|x| names_in_value(x, out)),
        Value::Object(o) => o.values().for_each(|x| names_in_value(x, out)),
        _ => {}
    }
}

/// Template names with the JSON pointer (under `base`) of the string holding each.
pub fn names_with_paths(v: &Value, base: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    fn walk(v: &Value, path: String, out: &mut Vec<(String, String)>) {
        match v {
            Value::String(s) => {
                for n in names_in(s) {
                    out.push((path.clone(), n));
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    walk(x, format!("{path}/{i}"), out);
                }
            }
            Value::Object(o) => {
                for (k, x) in o {
                    walk(
                        x,
                        format!("{path}/{}", k.replace('~', "~0").replace('/', "~1")),
                        out,
                    );
                }
            }
            _ => {}
        }
    }
    walk(v, base.to_string(), &mut out);
    out
}

/// What templates resolve against while a case runs.
pub struct Bindings<'a> {
    pub profile: &'a Profile,
    pub vars: HashMap<String, Value>,
    /// In dry-run, names not bound yet (captures) render as `<capture:name>`.
    pub placeholders_for_unbound: bool,
}

impl<'a> Bindings<'a> {
    pub fn new(profile: &'a Profile) -> Self {
        Bindings {
            profile,
            vars: HashMap::new(),
            placeholders_for_unbound: false,
        }
    }

    fn lookup(&self, name: &str) -> Result<Value, TemplateError> {
        if let Some(v) = self.vars.get(name) {
            return Ok(v.clone());
        }
        match self.profile.lookup(name) {
            Ok(Some(v)) => Ok(Value::String(v)),
            Ok(None) => Err(TemplateError::NoProfileValue {
                name: name.to_string(),
            }),
            Err(_) if self.placeholders_for_unbound => {
                Ok(Value::String(format!("<capture:{name}>")))
            }
            Err(_) => Err(TemplateError::Unbound {
                name: name.to_string(),
            }),
        }
    }

    /// Renders one string.
    pub fn render_str(&self, s: &str) -> Result<Value, TemplateError> {
        let names = names_in(s);
        if names.is_empty() {
            return Ok(Value::String(s.to_string()));
        }
        let trimmed = s.trim();
        if names.len() == 1 && trimmed.starts_with("{{") && trimmed.ends_with("}}") && s == trimmed
        {
            let inner = &s[2..s.len() - 2];
            if !inner.contains("{{") && !inner.contains("}}") {
                return self.lookup(inner.trim());
            }
        }
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            match self.lookup(after[..end].trim())? {
                Value::String(v) => out.push_str(&v),
                other => out.push_str(&other.to_string()),
            }
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        Ok(Value::String(out))
    }

    /// Renders every string inside a JSON value (object keys stay as written).
    pub fn render(&self, v: &Value) -> Result<Value, TemplateError> {
        Ok(match v {
            Value::String(s) => self.render_str(s)?,
            Value::Array(a) => {
                Value::Array(a.iter().map(|x| self.render(x)).collect::<Result<_, _>>()?)
            }
            Value::Object(o) => {
                let mut m = serde_json::Map::new();
                for (k, x) in o {
                    m.insert(k.clone(), self.render(x)?);
                }
                Value::Object(m)
            }
            other => other.clone(),
        })
    }

    /// Renders to text: strings as they are, anything else as JSON.
    pub fn render_text(&self, s: &str) -> Result<String, TemplateError> {
        Ok(match self.render_str(s)? {
            Value::String(s) => s,
            other => other.to_string(),
        })
    }
}

/// Whether a generated value is random (and so must be normalized in snapshots).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Volatility {
    Stable,
    Random,
}

/// Evaluates one `let` binding.
pub fn generate(gen: &Value, b: &Bindings) -> Result<(Value, Volatility), TemplateError> {
    let obj = match gen {
        Value::String(s) => return Ok((b.render_str(s)?, Volatility::Stable)),
        Value::Object(o) => o,
        other => {
            return Err(TemplateError::NotAGenerator {
                value: other.to_string(),
            })
        }
    };
    let (kind, spec) = obj.iter().next().ok_or(TemplateError::EmptyGenerator)?;
    let int = |k: &str, d: i64| spec.get(k).and_then(Value::as_i64).unwrap_or(d);
    match kind.as_str() {
        "pkce_verifier" => {
            let len = int("length", 64).clamp(1, 4096) as usize;
            const ALPHA: &[u8] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
            Ok((Value::String(random_from(ALPHA, len)), Volatility::Random))
        }
        "s256" => {
            let input = match spec {
                Value::String(s) => b.render_text(s)?,
                other => {
                    return Err(TemplateError::S256Input {
                        value: other.to_string(),
                    })
                }
            };
            Ok((Value::String(s256(&input)), Volatility::Random))
        }
        "random" => {
            let len = int("length", 32).clamp(1, 1 << 20) as usize;
            let alphabet: &[u8] = match spec
                .get("alphabet")
                .and_then(Value::as_str)
                .unwrap_or("alnum")
            {
                "hex" => b"0123456789abcdef",
                "unreserved" => {
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
                }
                "lower" => b"abcdefghijklmnopqrstuvwxyz",
                _ => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            };
            Ok((
                Value::String(random_from(alphabet, len)),
                Volatility::Random,
            ))
        }
        "repeat" => {
            let text = b.render_text(spec.get("text").and_then(Value::as_str).unwrap_or(""))?;
            let count = int("count", 0).clamp(0, 10 * 1024 * 1024) as usize;
            Ok((Value::String(text.repeat(count)), Volatility::Stable))
        }
        "basic" => {
            let user = b.render_text(spec.get("user").and_then(Value::as_str).unwrap_or(""))?;
            let pass = b.render_text(spec.get("password").and_then(Value::as_str).unwrap_or(""))?;
            let encode = spec
                .get("form_encode")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            let (u, p) = if encode {
                (form_encode(&user), form_encode(&pass))
            } else {
                (user, pass)
            };
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            Ok((Value::String(format!("Basic {token}")), Volatility::Stable))
        }
        "client_assertion" => Ok((
            Value::String(client_assertion(spec, b)?),
            Volatility::Random,
        )),
        "unix_time" => {
            let offset = int("offset", 0);
            Ok((Value::from(now_unix() + offset), Volatility::Random))
        }
        "uuid" => Ok((
            Value::String(uuid::Uuid::new_v4().to_string()),
            Volatility::Random,
        )),
        other => Err(TemplateError::UnknownGenerator {
            name: other.to_string(),
        }),
    }
}

fn random_from(alphabet: &[u8], len: usize) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
        .collect()
}

/// BASE64URL(SHA256(ascii(verifier))) without padding, RFC 7636 4.2.
pub fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// application/x-www-form-urlencoded encoding of one value (RFC 6749 2.3.1 for Basic).
pub fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn client_assertion(spec: &Value, b: &Bindings) -> Result<String, TemplateError> {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let role = spec
        .get("client")
        .and_then(Value::as_str)
        .unwrap_or("assertion");
    let client = b
        .profile
        .clients
        .get(role)
        .ok_or_else(|| TemplateError::NoAssertionClient {
            role: role.to_string(),
        })?;
    let use_unregistered = spec.get("key").and_then(Value::as_str) == Some("unregistered");
    // Without an alg of its own, an assertion is signed the way the profile's key is: a
    // tenant with only an RS256 key gets RS256 assertions.
    let default_key = if use_unregistered {
        b.profile.unregistered_key.as_ref()
    } else {
        client.keys.first()
    };
    let alg = spec
        .get("alg")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| default_key.map(|k| k.alg.clone()))
        .unwrap_or_else(|| "ES384".into());
    let family = |a: &str| {
        if a.starts_with("ES") {
            "EC"
        } else if a.starts_with("RS") {
            "RSA"
        } else {
            "other"
        }
    };
    let registered = client
        .keys
        .iter()
        .find(|k| k.alg == alg)
        .or_else(|| client.keys.iter().find(|k| family(&k.alg) == family(&alg)))
        .or(client.keys.first());
    let key = if use_unregistered {
        b.profile
            .unregistered_key
            .as_ref()
            .ok_or(TemplateError::NoUnregisteredKey)?
    } else {
        registered.ok_or_else(|| TemplateError::NoKey {
            role: role.to_string(),
        })?
    };
    let kid: Option<String> = match spec.get("kid") {
        Some(Value::Null) => None,
        Some(Value::String(s)) => Some(b.render_text(s)?),
        _ => key
            .kid
            .clone()
            .or_else(|| registered.and_then(|k| k.kid.clone())),
    };
    let now = now_unix();
    let iat = now + spec.get("iat_offset").and_then(Value::as_i64).unwrap_or(0);
    let exp = now + spec.get("exp_in").and_then(Value::as_i64).unwrap_or(60);
    let mut claims = serde_json::Map::new();
    claims.insert("iss".into(), Value::String(client.id.clone()));
    claims.insert("sub".into(), Value::String(client.id.clone()));
    claims.insert(
        "aud".into(),
        Value::String(b.profile.token_endpoint.clone()),
    );
    claims.insert("exp".into(), Value::from(exp));
    claims.insert("iat".into(), Value::from(iat));
    claims.insert(
        "jti".into(),
        Value::String(uuid::Uuid::new_v4().to_string()),
    );
    if let Some(Value::Object(extra)) = spec.get("claims") {
        for (k, v) in extra {
            claims.insert(k.clone(), b.render(v)?);
        }
    }
    if let Some(Value::Array(omit)) = spec.get("omit") {
        for o in omit.iter().filter_map(Value::as_str) {
            claims.remove(o);
        }
    }
    let claims = Value::Object(claims);
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    match alg.as_str() {
        "none" => {
            let mut h = serde_json::json!({"alg": "none", "typ": "JWT"});
            if let Some(k) = &kid {
                h["kid"] = Value::String(k.clone());
            }
            Ok(format!("{}.{}.", b64(&h), b64(&claims)))
        }
        "HS256" => {
            // The classic confusion attack: an HMAC keyed with something the server knows.
            let secret = client
                .secret
                .clone()
                .unwrap_or_else(|| String::from_utf8_lossy(&key.pem).into_owned());
            let mut header = Header::new(Algorithm::HS256);
            header.kid = kid;
            jsonwebtoken::encode(
                &header,
                &claims,
                &EncodingKey::from_secret(secret.as_bytes()),
            )
            .map_err(|source| TemplateError::Sign {
                alg: alg.clone(),
                source,
            })
        }
        a => {
            let algorithm = match a {
                "ES384" => Algorithm::ES384,
                "RS256" => Algorithm::RS256,
                "RS512" => Algorithm::RS512,
                other => {
                    return Err(TemplateError::UnsupportedAlg {
                        alg: other.to_string(),
                    })
                }
            };
            let enc = if family(a) == "EC" {
                EncodingKey::from_ec_pem(&key.pem)
            } else {
                EncodingKey::from_rsa_pem(&key.pem)
            }
            .map_err(|source| TemplateError::Key {
                key_alg: key.alg.clone(),
                alg: a.to_string(),
                source,
            })?;
            let mut header = Header::new(algorithm);
            header.kid = kid;
            jsonwebtoken::encode(&header, &claims, &enc).map_err(|source| TemplateError::Sign {
                alg: a.to_string(),
                source,
            })
        }
    }
}
