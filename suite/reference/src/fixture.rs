//! The fixture: the tenant the reference server pretends to be (clients, users, keys,
//! lifetimes, limits), loaded from JSON and validated before anything serves it.
//!
//! The format is a shared contract (the suite's profiles read the same file), so unknown
//! fields are refused: a typo must not silently fall back to a default.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::scope::ScopeSet;

/// The default fixture, shipped with the crate so the server runs from a clone alone.
const DEFAULT_FIXTURE: &str = include_str!("../fixtures/default.json");

/// Most scopes one fixture may declare: granted scopes are kept as a 128-bit set.
pub const MAX_SCOPES: usize = 128;

/// Qlik's per-client limits (help.qlik.com mc-create-oauth-client, notes section 2).
const MAX_SECRETS: usize = 5;
const MAX_REDIRECT_URIS: usize = 5;
const MAX_ORIGINS: usize = 5;

/// The grant types a fixture may allow explicitly. The code, refresh and exchange grants
/// are governed by `redirect_uris`, `offline_access` and `token_exchange` instead, as in
/// Qlik's client model where `allowedGrantTypes` is web-only (notes section 2).
pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";
pub const GRANT_IMPERSONATION: &str = "urn:qlik:oauth:user-impersonation";

/// Why a fixture was refused; `path` is the JSON path of the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FixtureError {
    #[error("cannot read fixture {file}: {message}")]
    Io { file: String, message: String },
    #[error("fixture is not valid JSON for the format at {path}: {message}")]
    Format { path: String, message: String },
    #[error("fixture field {path}: {message}")]
    Invalid { path: String, message: String },
}

impl FixtureError {
    /// The JSON path of the bad field (empty for I/O errors).
    pub fn path(&self) -> &str {
        match self {
            FixtureError::Io { .. } => "",
            FixtureError::Format { path, .. } | FixtureError::Invalid { path, .. } => path,
        }
    }
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> FixtureError {
    FixtureError::Invalid {
        path: path.into(),
        message: message.into(),
    }
}

/// The fixture file as written. Fields are public for reading; a `Fixture` can only be
/// built through validation, so the server never sees an unchecked one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureSpec {
    #[serde(rename = "$comment", default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub tenant: TenantSpec,
    pub lifetimes: LifetimesSpec,
    pub limits: LimitsSpec,
    pub rate_limits: RateLimitsSpec,
    pub idp: IdpSpec,
    pub scopes: Vec<String>,
    pub clients: Vec<ClientSpec>,
    pub users: Vec<UserSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSpec {
    pub name: String,
    /// The tenant URL (`https://tenant.region.qlikcloud.com`); null means "derive it from
    /// the request's Host header", which suits a server on an ephemeral port.
    pub issuer: Option<String>,
    /// Browser origins allowed for every client (the tenant's CSP origins, notes section 2);
    /// optional, default none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifetimesSpec {
    pub access_token_seconds: u64,
    pub refresh_token_seconds: u64,
    pub code_seconds: u64,
    pub session_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSpec {
    pub max_body_bytes: u64,
    pub max_tokens_per_user_client: u64,
    pub max_assertion_lifetime_seconds: u64,
    /// How often expired codes, tokens and sessions are swept (optional, default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_interval_seconds: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitsSpec {
    pub window_seconds: u64,
    pub tier1: u64,
    pub tier2: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdpSpec {
    /// Sign a fixture user in without a form when `login_hint` names them.
    pub auto_login_hint: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AppType {
    Web,
    Native,
    Spa,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    ClientSecret,
    PrivateKeyJwt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentMethod {
    Required,
    Trusted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSpec {
    pub client_id: String,
    pub name: String,
    pub app_type: AppType,
    pub secrets: Vec<String>,
    pub auth_methods: Vec<AuthMethod>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public_keys: Vec<JwkSpec>,
    pub allowed_grant_types: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_scopes: Vec<String>,
    pub consent_method: ConsentMethod,
    pub token_exchange: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<ClientRateLimitSpec>,
    /// Live tokens per user of this client before 403 (spec POST /oauth/token 403, notes
    /// ambiguity 15); optional, default `limits.max_tokens_per_user_client`. A small cap on
    /// one client lets a case reach it without spending the others'.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens_per_user: Option<u64>,
    /// Whether this client's access tokens may change a user's status through
    /// `PATCH /api/v1/users/{id}` (the tenant admin's users API, which cases use to disable
    /// a user between sign-in and redemption); optional, default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub user_admin: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientRateLimitSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier1: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier2: Option<u64>,
}

/// A public JWK as Qlik stores `publicKeys` (notes section 2: RS256, RS512 or ES384,
/// `kid` required, `use` sig).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwkSpec {
    pub kty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    pub kid: String,
    pub alg: String,
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    Active,
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    pub id: String,
    pub subject: String,
    pub email: String,
    pub name: String,
    pub status: UserStatus,
}

/// A validated fixture. Cheap to clone.
#[derive(Clone)]
pub struct Fixture {
    spec: Arc<FixtureSpec>,
    pub(crate) registry: Arc<Registry>,
}

impl std::fmt::Debug for Fixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets stay out of debug output (they are test material, but logs are logs).
        f.debug_struct("Fixture")
            .field("tenant", &self.spec.tenant.name)
            .field("clients", &self.spec.clients.len())
            .field("users", &self.spec.users.len())
            .finish()
    }
}

impl Fixture {
    /// The fixture shipped in `fixtures/default.json`.
    pub fn default_fixture() -> Fixture {
        Fixture::from_json(DEFAULT_FIXTURE).expect("the shipped default fixture is valid")
    }

    /// The shipped default fixture's JSON text, for callers that derive variants from it.
    pub fn default_json() -> &'static str {
        DEFAULT_FIXTURE
    }

    pub fn from_path(path: &Path) -> Result<Fixture, FixtureError> {
        let text = std::fs::read_to_string(path).map_err(|e| FixtureError::Io {
            file: path.display().to_string(),
            message: e.to_string(),
        })?;
        Fixture::from_json(&text)
    }

    pub fn from_json(text: &str) -> Result<Fixture, FixtureError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let spec: FixtureSpec = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            FixtureError::Format {
                // serde_path_to_error names the root "." and, for an unknown member whose
                // name is empty, gives no path at all; both mean the top-level object.
                path: if path == "." || path.is_empty() {
                    "$".into()
                } else {
                    path
                },
                message: e.inner().to_string(),
            }
        })?;
        Fixture::from_spec(spec)
    }

    pub fn from_spec(spec: FixtureSpec) -> Result<Fixture, FixtureError> {
        let registry = Registry::compile(&spec)?;
        Ok(Fixture {
            spec: Arc::new(spec),
            registry: Arc::new(registry),
        })
    }

    /// The fixture as written, for reading client ids, secrets and users.
    pub fn spec(&self) -> &FixtureSpec {
        &self.spec
    }
}

/// A client ready for request handling: secrets as SHA-256 digests (compared in constant
/// time), keys parsed, scopes as sets.
pub(crate) struct Client {
    pub id: Box<str>,
    pub secret_digests: Vec<[u8; 32]>,
    pub auth_secret: bool,
    pub auth_jwt: bool,
    pub keys: Vec<ClientKey>,
    pub client_credentials: bool,
    pub impersonation: bool,
    pub redirect_uris: Vec<Box<str>>,
    pub allowed_origins: Vec<Box<str>>,
    pub allowed_scopes: ScopeSet,
    pub consent_required: bool,
    pub token_exchange: bool,
    pub tier1_limit: u64,
    pub tier2_limit: u64,
    pub max_tokens: u64,
    pub user_admin: bool,
}

impl Client {
    /// A confidential client (RFC 6749 2.1) must authenticate at the token endpoint.
    pub fn is_confidential(&self) -> bool {
        self.auth_secret || self.auth_jwt
    }
}

pub(crate) struct ClientKey {
    pub kid: Box<str>,
    pub alg: Algorithm,
    pub key: DecodingKey,
}

pub(crate) struct User {
    pub id: Box<str>,
    pub subject: Box<str>,
    pub email: Box<str>,
    pub name: Box<str>,
    /// The status the fixture gives; the live one, which the users API may change, is the
    /// store's (`Store::user_active`).
    pub active: bool,
}

pub(crate) struct Registry {
    pub issuer: Option<Box<str>>,
    pub tenant_origins: Vec<Box<str>>,
    /// Every origin some client or the tenant allows, for CORS answers.
    pub any_origins: Vec<Box<str>>,
    pub clients: Vec<Client>,
    pub client_index: HashMap<Box<str>, u32>,
    pub users: Vec<User>,
    pub scopes: Vec<Box<str>>,
    pub scope_index: HashMap<Box<str>, u8>,
    /// For each scope, the parent scope that implies it (`apps` for `apps:read`).
    pub scope_parent: Vec<Option<u8>>,
    pub offline_access: Option<u8>,
    pub access_ttl: u64,
    pub refresh_ttl: u64,
    pub code_ttl: u64,
    pub session_ttl: u64,
    pub max_body_bytes: usize,
    pub max_assertion_lifetime: u64,
    pub purge_interval: u64,
    pub window_seconds: u64,
    pub auto_login_hint: bool,
}

impl Registry {
    pub fn client(&self, id: &str) -> Option<(u32, &Client)> {
        let idx = *self.client_index.get(id)?;
        Some((idx, &self.clients[idx as usize]))
    }

    /// Finds a user by id, subject or email: the ways a `login_hint` or the login form may
    /// name them.
    pub fn user_by_hint(&self, hint: &str) -> Option<u32> {
        self.users
            .iter()
            .position(|u| {
                &*u.id == hint || &*u.subject == hint || u.email.eq_ignore_ascii_case(hint)
            })
            .map(|i| i as u32)
    }

    fn compile(spec: &FixtureSpec) -> Result<Registry, FixtureError> {
        let issuer = match &spec.tenant.issuer {
            None => None,
            Some(url) => Some(validate_issuer(url)?.into()),
        };
        let mut tenant_origins: Vec<Box<str>> = Vec::new();
        for (j, o) in spec.tenant.allowed_origins.iter().enumerate() {
            validate_origin(&format!("tenant.allowed_origins[{j}]"), o)?;
            tenant_origins.push(o.as_str().into());
        }
        if spec.tenant.name.trim().is_empty() {
            return Err(invalid("tenant.name", "must not be empty"));
        }
        let l = &spec.lifetimes;
        for (name, v) in [
            ("access_token_seconds", l.access_token_seconds),
            ("refresh_token_seconds", l.refresh_token_seconds),
            ("code_seconds", l.code_seconds),
            ("session_seconds", l.session_seconds),
        ] {
            if v == 0 || v > 10 * 365 * 86_400 {
                return Err(invalid(
                    format!("lifetimes.{name}"),
                    "must be between 1 and 315360000 seconds",
                ));
            }
        }
        let lim = &spec.limits;
        if !(256..=64 * 1024 * 1024).contains(&lim.max_body_bytes) {
            return Err(invalid(
                "limits.max_body_bytes",
                "must be between 256 and 67108864",
            ));
        }
        if lim.max_tokens_per_user_client == 0 {
            return Err(invalid(
                "limits.max_tokens_per_user_client",
                "must be at least 1",
            ));
        }
        if !(1..=3600).contains(&lim.max_assertion_lifetime_seconds) {
            return Err(invalid(
                "limits.max_assertion_lifetime_seconds",
                "must be between 1 and 3600",
            ));
        }
        if let Some(p) = lim.purge_interval_seconds {
            if !(1..=3600).contains(&p) {
                return Err(invalid(
                    "limits.purge_interval_seconds",
                    "must be between 1 and 3600",
                ));
            }
        }
        let rl = &spec.rate_limits;
        if !(1..=86_400).contains(&rl.window_seconds) {
            return Err(invalid(
                "rate_limits.window_seconds",
                "must be between 1 and 86400",
            ));
        }
        for (name, v) in [("tier1", rl.tier1), ("tier2", rl.tier2)] {
            if v == 0 || v > u32::MAX as u64 {
                return Err(invalid(
                    format!("rate_limits.{name}"),
                    "must be between 1 and 4294967295",
                ));
            }
        }

        // Scopes: RFC 6749 3.3 scope-token characters, so they never need escaping in JSON,
        // HTML or a space-delimited list.
        if spec.scopes.is_empty() {
            return Err(invalid("scopes", "must list at least one scope"));
        }
        if spec.scopes.len() > MAX_SCOPES {
            return Err(invalid(
                "scopes",
                format!("at most {MAX_SCOPES} scopes are supported"),
            ));
        }
        let mut scope_index = HashMap::new();
        for (i, s) in spec.scopes.iter().enumerate() {
            if s.is_empty() || !s.bytes().all(is_scope_char) {
                return Err(invalid(
                    format!("scopes[{i}]"),
                    "must be a non-empty RFC 6749 3.3 scope-token (no spaces, quotes or backslashes)",
                ));
            }
            if scope_index.insert(s.as_str().into(), i as u8).is_some() {
                return Err(invalid(format!("scopes[{i}]"), "duplicate scope"));
            }
        }
        let scopes: Vec<Box<str>> = spec.scopes.iter().map(|s| s.as_str().into()).collect();
        // A parent scope implies its children (notes section 2: `apps` includes `apps:read`).
        let scope_parent = scopes
            .iter()
            .map(|s| {
                s.rsplit_once(':')
                    .and_then(|(parent, _)| scope_index.get(parent).copied())
            })
            .collect();
        let offline_access = scope_index.get("offline_access").copied();

        let mut clients = Vec::with_capacity(spec.clients.len());
        let mut client_index = HashMap::new();
        for (i, c) in spec.clients.iter().enumerate() {
            let p = format!("clients[{i}]");
            let client = compile_client(&p, c, spec, &scope_index)?;
            if client_index
                .insert(c.client_id.as_str().into(), i as u32)
                .is_some()
            {
                return Err(invalid(format!("{p}.client_id"), "duplicate client_id"));
            }
            clients.push(client);
        }

        let mut users = Vec::with_capacity(spec.users.len());
        let mut seen: HashSet<String> = HashSet::new();
        for (i, u) in spec.users.iter().enumerate() {
            let p = format!("users[{i}]");
            for (field, v) in [("id", &u.id), ("subject", &u.subject), ("email", &u.email)] {
                if v.trim().is_empty() || v.chars().any(char::is_control) {
                    return Err(invalid(
                        format!("{p}.{field}"),
                        "must be non-empty, without control characters",
                    ));
                }
                // Ids, subjects and emails share one namespace: a login_hint may be any of them.
                if !seen.insert(v.to_ascii_lowercase()) {
                    return Err(invalid(
                        format!("{p}.{field}"),
                        "already names another user (ids, subjects and emails must be unique)",
                    ));
                }
            }
            if !u.email.contains('@') {
                return Err(invalid(format!("{p}.email"), "must be an email address"));
            }
            users.push(User {
                id: u.id.as_str().into(),
                subject: u.subject.as_str().into(),
                email: u.email.as_str().into(),
                name: u.name.as_str().into(),
                active: u.status == UserStatus::Active,
            });
        }
        if users.len() > 100_000 {
            return Err(invalid("users", "at most 100000 users are supported"));
        }
        if clients.len() > 10_000 {
            return Err(invalid("clients", "at most 10000 clients are supported"));
        }

        let mut any_origins = tenant_origins.clone();
        for c in &clients {
            for o in &c.allowed_origins {
                if !any_origins.contains(o) {
                    any_origins.push(o.clone());
                }
            }
        }
        Ok(Registry {
            issuer,
            tenant_origins,
            any_origins,
            clients,
            client_index,
            users,
            scopes,
            scope_index,
            scope_parent,
            offline_access,
            access_ttl: l.access_token_seconds,
            refresh_ttl: l.refresh_token_seconds,
            code_ttl: l.code_seconds,
            session_ttl: l.session_seconds,
            max_body_bytes: lim.max_body_bytes as usize,
            max_assertion_lifetime: lim.max_assertion_lifetime_seconds,
            purge_interval: lim.purge_interval_seconds.unwrap_or(10),
            window_seconds: rl.window_seconds,
            auto_login_hint: spec.idp.auto_login_hint,
        })
    }
}

/// RFC 6749 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
fn is_scope_char(b: u8) -> bool {
    b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b)
}

fn validate_issuer(url: &str) -> Result<&str, FixtureError> {
    let parsed = url::Url::parse(url)
        .map_err(|e| invalid("tenant.issuer", format!("not an absolute URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("tenant.issuer", "must be an http or https URL"));
    }
    if url.ends_with('/') || parsed.query().is_some() || parsed.fragment().is_some() {
        // RFC 8414 2: the issuer has no query or fragment; the assertion `aud` is compared
        // exactly against issuer + "/oauth/token" (notes section 2), so no trailing slash.
        return Err(invalid(
            "tenant.issuer",
            "must have no trailing slash, query or fragment",
        ));
    }
    Ok(url)
}

fn compile_client(
    p: &str,
    c: &ClientSpec,
    spec: &FixtureSpec,
    scope_index: &HashMap<Box<str>, u8>,
) -> Result<Client, FixtureError> {
    if c.client_id.is_empty() || c.client_id.chars().any(char::is_control) {
        return Err(invalid(
            format!("{p}.client_id"),
            "must be non-empty, without control characters",
        ));
    }
    let web = c.app_type == AppType::Web;
    let mut auth_secret = false;
    let mut auth_jwt = false;
    for (j, m) in c.auth_methods.iter().enumerate() {
        let flag = match m {
            AuthMethod::ClientSecret => &mut auth_secret,
            AuthMethod::PrivateKeyJwt => &mut auth_jwt,
        };
        if *flag {
            return Err(invalid(
                format!("{p}.auth_methods[{j}]"),
                "duplicate auth method",
            ));
        }
        *flag = true;
    }
    if !web && (auth_secret || auth_jwt) {
        return Err(invalid(
            format!("{p}.auth_methods"),
            "only web clients authenticate; native and spa clients are public (RFC 6749 2.1)",
        ));
    }
    if web && !auth_secret && !auth_jwt {
        return Err(invalid(
            format!("{p}.auth_methods"),
            "a web client needs client_secret or private_key_jwt",
        ));
    }
    if auth_secret && c.secrets.is_empty() {
        return Err(invalid(
            format!("{p}.secrets"),
            "client_secret auth needs at least one secret",
        ));
    }
    if !auth_secret && !c.secrets.is_empty() {
        return Err(invalid(
            format!("{p}.secrets"),
            "secrets given but auth_methods lacks client_secret",
        ));
    }
    if c.secrets.len() > MAX_SECRETS {
        return Err(invalid(
            format!("{p}.secrets"),
            format!("at most {MAX_SECRETS} secrets"),
        ));
    }
    let mut secret_digests = Vec::new();
    for (j, s) in c.secrets.iter().enumerate() {
        if s.len() < 16 {
            return Err(invalid(
                format!("{p}.secrets[{j}]"),
                "must be at least 16 characters",
            ));
        }
        secret_digests.push(Sha256::digest(s.as_bytes()).into());
    }
    if auth_jwt && c.public_keys.is_empty() {
        return Err(invalid(
            format!("{p}.public_keys"),
            "private_key_jwt auth needs at least one public key",
        ));
    }
    if !auth_jwt && !c.public_keys.is_empty() {
        return Err(invalid(
            format!("{p}.public_keys"),
            "public keys given but auth_methods lacks private_key_jwt",
        ));
    }
    let mut keys = Vec::new();
    let mut kids = HashSet::new();
    for (j, k) in c.public_keys.iter().enumerate() {
        let kp = format!("{p}.public_keys[{j}]");
        if !kids.insert(k.kid.as_str()) || k.kid.is_empty() {
            return Err(invalid(
                format!("{kp}.kid"),
                "kid must be non-empty and unique",
            ));
        }
        keys.push(compile_key(&kp, k)?);
    }

    let mut client_credentials = false;
    let mut impersonation = false;
    for (j, g) in c.allowed_grant_types.iter().enumerate() {
        let flag = match g.as_str() {
            GRANT_CLIENT_CREDENTIALS => &mut client_credentials,
            GRANT_IMPERSONATION => &mut impersonation,
            _ => {
                return Err(invalid(
                    format!("{p}.allowed_grant_types[{j}]"),
                    "must be client_credentials or urn:qlik:oauth:user-impersonation (the code, refresh and exchange grants need no listing)",
                ))
            }
        };
        if *flag {
            return Err(invalid(
                format!("{p}.allowed_grant_types[{j}]"),
                "duplicate grant type",
            ));
        }
        *flag = true;
    }
    if !web && (client_credentials || impersonation) {
        return Err(invalid(
            format!("{p}.allowed_grant_types"),
            "only web clients may use client_credentials or impersonation",
        ));
    }
    if impersonation && c.consent_method != ConsentMethod::Trusted {
        // qlik.dev create-oauth-client-m2m-impersonation (notes section 2).
        return Err(invalid(
            format!("{p}.consent_method"),
            "impersonation needs consent_method trusted",
        ));
    }

    if c.redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(invalid(
            format!("{p}.redirect_uris"),
            format!("at most {MAX_REDIRECT_URIS} redirect URIs"),
        ));
    }
    let mut redirect_uris = Vec::new();
    for (j, r) in c.redirect_uris.iter().enumerate() {
        if let Err(msg) = validate_redirect_uri(r) {
            return Err(invalid(format!("{p}.redirect_uris[{j}]"), msg));
        }
        redirect_uris.push(r.as_str().into());
    }
    if c.allowed_origins.len() > MAX_ORIGINS {
        return Err(invalid(
            format!("{p}.allowed_origins"),
            format!("at most {MAX_ORIGINS} origins"),
        ));
    }
    for (j, o) in c.allowed_origins.iter().enumerate() {
        validate_origin(&format!("{p}.allowed_origins[{j}]"), o)?;
    }
    let mut allowed_scopes = ScopeSet::EMPTY;
    for (j, s) in c.allowed_scopes.iter().enumerate() {
        match scope_index.get(s.as_str()) {
            Some(&bit) => {
                if allowed_scopes.contains(bit) {
                    return Err(invalid(
                        format!("{p}.allowed_scopes[{j}]"),
                        "duplicate scope",
                    ));
                }
                allowed_scopes.insert(bit);
            }
            None => {
                return Err(invalid(
                    format!("{p}.allowed_scopes[{j}]"),
                    "not declared in the top-level scopes list",
                ))
            }
        }
    }
    let limit = |v: Option<u64>, name: &str, default: u64| -> Result<u64, FixtureError> {
        match v {
            None => Ok(default),
            Some(v) if v >= 1 && v <= u32::MAX as u64 => Ok(v),
            Some(_) => Err(invalid(
                format!("{p}.rate_limit.{name}"),
                "must be between 1 and 4294967295",
            )),
        }
    };
    let rl = c.rate_limit.as_ref();
    Ok(Client {
        id: c.client_id.as_str().into(),
        secret_digests,
        auth_secret,
        auth_jwt,
        keys,
        client_credentials,
        impersonation,
        redirect_uris,
        allowed_origins: c
            .allowed_origins
            .iter()
            .map(|o| o.as_str().into())
            .collect(),
        allowed_scopes,
        consent_required: c.consent_method == ConsentMethod::Required,
        token_exchange: c.token_exchange,
        tier1_limit: limit(rl.and_then(|r| r.tier1), "tier1", spec.rate_limits.tier1)?,
        tier2_limit: limit(rl.and_then(|r| r.tier2), "tier2", spec.rate_limits.tier2)?,
        max_tokens: match c.max_tokens_per_user {
            None => spec.limits.max_tokens_per_user_client,
            Some(0) => {
                return Err(invalid(
                    format!("{p}.max_tokens_per_user"),
                    "must be at least 1",
                ))
            }
            Some(n) => n,
        },
        user_admin: c.user_admin,
    })
}

fn validate_origin(path: &str, o: &str) -> Result<(), FixtureError> {
    let ok = url::Url::parse(o)
        .map(|u| matches!(u.scheme(), "http" | "https") && u.origin().ascii_serialization() == o)
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(invalid(
            path,
            "must be an origin such as https://app.example.com (scheme, host, optional port)",
        ))
    }
}

/// Redirect URIs are absolute, https unless on loopback, without fragment (RFC 6749
/// 3.1.2, notes section 2 and ambiguity 6).
pub(crate) fn validate_redirect_uri(r: &str) -> Result<(), &'static str> {
    let u = url::Url::parse(r).map_err(|_| "must be an absolute URL")?;
    if u.fragment().is_some() {
        return Err("must not contain a fragment (RFC 6749 3.1.2)");
    }
    match u.scheme() {
        "https" => Ok(()),
        "http" => match u.host() {
            Some(url::Host::Domain("localhost")) => Ok(()),
            Some(url::Host::Ipv4(ip)) if ip.is_loopback() => Ok(()),
            Some(url::Host::Ipv6(ip)) if ip.is_loopback() => Ok(()),
            _ => Err("http is only allowed on a loopback host; use https"),
        },
        // Private-use schemes for native apps (RFC 8252 7.1) are left out: Qlik requires
        // absolute http(s) URLs (qlik.dev create-oauth-client-spa).
        _ => Err("must be an http or https URL"),
    }
}

fn compile_key(kp: &str, k: &JwkSpec) -> Result<ClientKey, FixtureError> {
    if let Some(u) = &k.use_ {
        if u != "sig" {
            return Err(invalid(format!("{kp}.use"), "must be \"sig\""));
        }
    }
    let b64 = |field: &str, v: &Option<String>| -> Result<Vec<u8>, FixtureError> {
        let v = v.as_deref().ok_or_else(|| {
            invalid(
                format!("{kp}.{field}"),
                "missing for this key type".to_string(),
            )
        })?;
        URL_SAFE_NO_PAD
            .decode(v)
            .map_err(|_| invalid(format!("{kp}.{field}"), "must be unpadded base64url"))
    };
    // Notes section 2: RS256, RS512 or ES384 only; RSA keys of at least 2048 bits.
    let (alg, key) = match (k.alg.as_str(), k.kty.as_str()) {
        ("ES384", "EC") => {
            if k.crv.as_deref() != Some("P-384") {
                return Err(invalid(format!("{kp}.crv"), "ES384 needs crv P-384"));
            }
            let x = b64("x", &k.x)?;
            let y = b64("y", &k.y)?;
            if x.len() != 48 || y.len() != 48 {
                return Err(invalid(
                    format!("{kp}.x"),
                    "P-384 coordinates are 48 bytes each",
                ));
            }
            let key =
                DecodingKey::from_ec_components(k.x.as_deref().unwrap(), k.y.as_deref().unwrap())
                    .map_err(|e| invalid(kp.to_string(), format!("bad EC key: {e}")))?;
            (Algorithm::ES384, key)
        }
        (alg @ ("RS256" | "RS512"), "RSA") => {
            let n = b64("n", &k.n)?;
            if b64("e", &k.e)?.is_empty() {
                return Err(invalid(format!("{kp}.e"), "must not be empty"));
            }
            if n.is_empty() {
                return Err(invalid(
                    format!("{kp}.n"),
                    "RSA keys must be at least 2048 bits",
                ));
            }
            let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
            if bits < 2048 {
                return Err(invalid(
                    format!("{kp}.n"),
                    "RSA keys must be at least 2048 bits",
                ));
            }
            let key =
                DecodingKey::from_rsa_components(k.n.as_deref().unwrap(), k.e.as_deref().unwrap())
                    .map_err(|e| invalid(kp.to_string(), format!("bad RSA key: {e}")))?;
            let alg = if alg == "RS256" {
                Algorithm::RS256
            } else {
                Algorithm::RS512
            };
            (alg, key)
        }
        ("ES384" | "RS256" | "RS512", _) => {
            return Err(invalid(
                format!("{kp}.kty"),
                "kty does not match alg (ES384 needs EC, RS256/RS512 need RSA)",
            ))
        }
        _ => {
            return Err(invalid(
                format!("{kp}.alg"),
                "must be RS256, RS512 or ES384",
            ))
        }
    };
    Ok(ClientKey {
        kid: k.kid.as_str().into(),
        alg,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_fixture_loads() {
        let f = Fixture::default_fixture();
        assert_eq!(f.spec().clients.len(), 9);
        assert!(f.registry.client("web-assertion").unwrap().1.auth_jwt);
        // The capped client's own cap; every other client keeps the tenant's.
        assert_eq!(f.registry.client("web-capped").unwrap().1.max_tokens, 20);
        assert_eq!(
            f.registry.client("web-confidential").unwrap().1.max_tokens,
            100_000
        );
        assert!(f.registry.client("web-admin").unwrap().1.user_admin);
        assert!(!f.registry.client("web-confidential").unwrap().1.user_admin);
    }
}
