//! The target description: where to send requests, with which clients and users, and
//! within which limits. A profile is JSON (see `cases/profiles/profile.schema.json`);
//! secrets may be inline or taken from environment variables so profile files for real
//! tenants can be committed without credentials.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Client roles a case may name, in the order the capability list uses.
pub const CLIENT_ROLES: &[&str] = &[
    "confidential",
    "public",
    "consent",
    "impersonation",
    "assertion",
    "limited",
    "allowance",
    "capped",
    "admin",
];
/// User roles a case may name.
pub const USER_ROLES: &[&str] = &["default", "other", "disabled", "suspendable"];
/// Largest token cap a profile may declare: the token-cap case asks for one more token
/// than this, and stays under the tier-2 allowance (100 a minute) while it does. The
/// profile schema holds the range (its `token_cap` maximum), checked before any field is
/// read; a test keeps the schema, this and the case's request count in step.
pub const MAX_TOKEN_CAP: u64 = 50;
/// Fields of a client a template may read.
pub const CLIENT_FIELDS: &[&str] = &[
    "id",
    "secret",
    "redirect_uri",
    "scope",
    "kid",
    "other_kid",
    "forbidden_scope",
];
/// Fields of a user a template may read.
pub const USER_FIELDS: &[&str] = &["subject", "user_id", "login_hint", "email"];

/// Why a profile does not load, does not take a base URL, or refuses its target.
///
/// Each message names the profile field at fault (`clients.capped.token_cap`), the
/// environment variable or the file, so whoever wrote the profile can fix it from the
/// message alone.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read profile {}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A profile's own path is what its author knows it by; the error inside names the
    /// field.
    #[error("profile {}", path.display())]
    File {
        path: PathBuf,
        source: Box<ProfileError>,
    },
    #[error("profile is not valid JSON")]
    Json { source: serde_json::Error },
    #[error("profile does not match profile.schema.json: {}", violations.join("; "))]
    Schema { violations: Vec<String> },
    /// The schema is compiled into the harness, so this is a bug in the suite, never in
    /// the profile.
    #[error("profile.schema.json does not compile")]
    SchemaUnusable,
    #[error("profile has a bad field")]
    Field { source: serde_json::Error },
    /// The variable's value is not kept as a source: it is the secret.
    #[error(
        "{field}: environment variable {env} is not set (the profile takes the secret from it)"
    )]
    EnvNotSet { field: String, env: String },
    #[error("{field}: environment variable {env} is not valid Unicode (the profile takes the secret from it)")]
    EnvNotUnicode { field: String, env: String },
    /// `field` is the profile field naming the file (`clients.assertion.key_file`,
    /// `tls.ca_file`).
    #[error("{field}: cannot read {}", path.display())]
    ReadFile {
        field: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{field}.alg: {alg:?} is not one of ES384, RS256, RS512")]
    Alg { field: String, alg: String },
    #[error("base_url {url:?} is not a URL")]
    BaseUrl {
        url: String,
        source: url::ParseError,
    },
    #[error("base_url {url:?}: scheme must be http or https")]
    BaseUrlScheme { url: String },
    #[error("base_url {url:?} has no host")]
    BaseUrlHost { url: String },
    #[error("base_url must not carry credentials; put secrets in clients")]
    BaseUrlCredentials,
    #[error("clients.{role}: unknown client role (known: {})", CLIENT_ROLES.join(", "))]
    ClientRole { role: String },
    #[error("users.{role}: unknown user role (known: {})", USER_ROLES.join(", "))]
    UserRole { role: String },
    #[error("{field}.token_cap: required (the live tokens per user the target issues this client before 403, 1 to {MAX_TOKEN_CAP})")]
    TokenCapMissing { field: String },
    #[error("{field}.token_cap: only the capped client declares a token cap")]
    TokenCapNotCapped { field: String },
    #[error("login.session: required when login.mode is session")]
    SessionMissing,
    #[error("login.mode: {mode:?} is not one of login_hint, session, interactive, none")]
    LoginMode { mode: String },
    #[error("rate_limit: must be a positive number of requests per second")]
    RateLimit,
    #[error("target host {host} is not in the profile's allowed_hosts ({}); refusing to run", allowed_hosts.join(", "))]
    HostNotAllowed {
        host: String,
        allowed_hosts: Vec<String>,
    },
    /// A template name that has the shape of a profile value but a field no client has.
    #[error("clients.{role}.{field}: unknown client field")]
    ClientField { role: String, field: String },
    #[error("users.{role}.{field}: unknown user field")]
    UserField { role: String, field: String },
    #[error("{name}: not a profile value")]
    NotAValue { name: String },
}

/// A secret value: inline in the profile, or read from an environment variable at load
/// time so the profile file itself can be shared.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SecretRef {
    Inline(String),
    Env { env: String },
}

impl SecretRef {
    fn resolve(&self, field: &str) -> Result<String, ProfileError> {
        match self {
            SecretRef::Inline(s) => Ok(s.clone()),
            SecretRef::Env { env } => std::env::var(env).map_err(|e| {
                let (field, env) = (field.to_string(), env.clone());
                match e {
                    std::env::VarError::NotPresent => ProfileError::EnvNotSet { field, env },
                    std::env::VarError::NotUnicode(_) => ProfileError::EnvNotUnicode { field, env },
                }
            }),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    key_file: String,
    #[serde(default)]
    kid: Option<String>,
    alg: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    id: String,
    #[serde(default)]
    secret: Option<SecretRef>,
    #[serde(default)]
    redirect_uri: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    key_file: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    extra_keys: Vec<RawKey>,
    #[serde(default)]
    forbidden_scopes: Vec<String>,
    #[serde(default)]
    token_cap: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSession {
    #[serde(default)]
    cookies: BTreeMap<String, SecretRef>,
    #[serde(default)]
    headers: BTreeMap<String, SecretRef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLogin {
    mode: String,
    #[serde(default)]
    session: Option<RawSession>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScopes {
    #[serde(default)]
    allowed: Vec<String>,
    #[serde(default)]
    forbidden: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimeouts {
    #[serde(default)]
    request_ms: Option<u64>,
    #[serde(default)]
    case_ms: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    #[serde(default)]
    accept_invalid_certs: bool,
    #[serde(default)]
    ca_file: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeatures {
    #[serde(default)]
    token_exchange: Option<bool>,
    #[serde(default)]
    discovery: Option<bool>,
    #[serde(default)]
    refresh_public: Option<bool>,
    #[serde(default)]
    assertion_impersonation: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    login_hint: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    #[serde(default)]
    description: Option<String>,
    name: String,
    base_url: String,
    allowed_hosts: Vec<String>,
    #[serde(default)]
    token_endpoint: Option<String>,
    #[serde(default)]
    clients: BTreeMap<String, RawClient>,
    #[serde(default)]
    users: BTreeMap<String, RawUser>,
    #[serde(default)]
    scopes: RawScopes,
    login: RawLogin,
    #[serde(default)]
    timeouts: RawTimeouts,
    #[serde(default)]
    max_body_bytes: Option<u64>,
    #[serde(default)]
    redirect_limit: Option<u32>,
    #[serde(default)]
    request_budget: Option<u64>,
    #[serde(default)]
    rate_limit: Option<f64>,
    #[serde(default)]
    allow_destructive: bool,
    #[serde(default)]
    tls: RawTls,
    #[serde(default)]
    features: RawFeatures,
    #[serde(default)]
    unregistered_key: Option<RawKey>,
    #[serde(default)]
    fidelity: Fidelity,
    #[serde(default)]
    lifetimes: RawLifetimes,
    #[serde(default)]
    max_wait_seconds: Option<u64>,
}

/// The target's own lifetimes, as its operator knows them: `wait` steps wait them out.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLifetimes {
    #[serde(default)]
    code_seconds: Option<u64>,
    #[serde(default)]
    refresh_token_seconds: Option<u64>,
}

/// How long a case may wait for a credential to expire unless the profile says otherwise:
/// long enough for short test fixtures, short enough that nobody's run stalls on it.
pub const DEFAULT_MAX_WAIT_SECONDS: u64 = 10;

/// What a run holds the target to where the RFCs leave a choice and the real service made
/// one: `rfc` (the default) records the target's choice, `qlik` judges it like the real
/// service's (cases marked `"fidelity": "qlik"`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fidelity {
    #[default]
    Rfc,
    Qlik,
}

/// A private key the harness signs client assertions with.
#[derive(Debug, Clone)]
pub struct SigningKey {
    pub pem: Vec<u8>,
    pub kid: Option<String>,
    /// `ES384`, `RS256`, `RS512`.
    pub alg: String,
}

#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub secret: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    /// Registered keys, the first being the default for assertions.
    pub keys: Vec<SigningKey>,
    /// Scopes the tenant knows but does not allow this client; the profile's
    /// `scopes.forbidden` when the client names none.
    pub forbidden_scopes: Vec<String>,
    /// Live tokens per user the target issues this client before its 403 (the capped
    /// client only).
    pub token_cap: Option<u64>,
}

#[derive(Debug, Clone, Default)]
pub struct User {
    pub subject: Option<String>,
    pub user_id: Option<String>,
    pub email: Option<String>,
    pub login_hint: Option<String>,
}

/// How the harness obtains authorization codes on this target.
#[derive(Debug, Clone)]
pub enum LoginMode {
    /// The target signs the user in from `login_hint` alone (test IdPs).
    LoginHint,
    /// An existing browser session, replayed as cookies and headers.
    Session {
        cookies: BTreeMap<String, String>,
        headers: BTreeMap<String, String>,
    },
    /// A person signs in; the harness prints the URL and reads the final redirect.
    Interactive,
    /// No way to log in: cases that need it are skipped.
    None,
}

#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub description: Option<String>,
    pub base_url: url::Url,
    pub allowed_hosts: Vec<String>,
    pub token_endpoint: String,
    pub clients: BTreeMap<String, Client>,
    pub users: BTreeMap<String, User>,
    pub scopes_allowed: Vec<String>,
    pub scopes_forbidden: Vec<String>,
    pub login: LoginMode,
    pub request_timeout: Duration,
    pub case_timeout: Duration,
    pub max_body_bytes: u64,
    pub redirect_limit: u32,
    pub request_budget: Option<u64>,
    /// Requests per second; `None` means unlimited.
    pub rate_limit: Option<f64>,
    pub allow_destructive: bool,
    pub accept_invalid_certs: bool,
    pub ca_pem: Option<Vec<u8>>,
    pub token_exchange: bool,
    pub discovery: bool,
    /// Whether public clients get refresh tokens (RFC 6749 1.5 leaves it to the server).
    pub refresh_public: bool,
    /// Whether the assertion client also holds the impersonation grant.
    pub assertion_impersonation: bool,
    pub unregistered_key: Option<SigningKey>,
    /// Whether the real service's own choices are judged or only recorded.
    pub fidelity: Fidelity,
    /// Whether the run gives up on a target that stops answering (see
    /// [`crate::exec::Engine::stalled`]). Not a profile field: always on, except where the
    /// detection matrix runs its slow and hanging faults, whose every case must be sent
    /// for the matrix to come out the same each time.
    pub stall_detection: bool,
    /// Whether a 429 is waited out and the request sent again (bounded). Not a profile
    /// field: always on, except in the detection matrix, whose servers' budgets are its
    /// own and where a fault that throttles must show as the 429s it gives.
    pub retry_rate_limited: bool,
    /// The target's lifetimes by kind (`code`, `refresh_token`), in seconds, where the
    /// profile gives them.
    pub lifetimes: BTreeMap<String, u64>,
    /// The longest a case may pause in `wait` steps; longer ones are skipped.
    pub max_wait_seconds: u64,
    /// Whether `token_endpoint` was given explicitly or derives from `base_url`.
    token_endpoint_explicit: bool,
}

fn read_key(raw: &RawKey, dir: &Path, field: &str) -> Result<SigningKey, ProfileError> {
    let path = dir.join(&raw.key_file);
    let pem = std::fs::read(&path).map_err(|source| ProfileError::ReadFile {
        field: format!("{field}.key_file"),
        path: path.clone(),
        source,
    })?;
    check_alg(&raw.alg, field)?;
    Ok(SigningKey {
        pem,
        kid: raw.kid.clone(),
        alg: raw.alg.clone(),
    })
}

fn check_alg(alg: &str, field: &str) -> Result<(), ProfileError> {
    match alg {
        "ES384" | "RS256" | "RS512" => Ok(()),
        other => Err(ProfileError::Alg {
            field: field.to_string(),
            alg: other.to_string(),
        }),
    }
}

impl Profile {
    /// Reads a profile file; relative key paths are resolved against the file's folder.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        Profile::from_json(&text, dir).map_err(|e| ProfileError::File {
            path: path.to_path_buf(),
            source: Box::new(e),
        })
    }

    /// Parses profile JSON; `dir` is where relative key and CA paths start.
    pub fn from_json(text: &str, dir: &Path) -> Result<Profile, ProfileError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|source| ProfileError::Json { source })?;
        validate_against_schema(&value)?;
        let raw: RawProfile =
            serde_json::from_value(value).map_err(|source| ProfileError::Field { source })?;
        Profile::from_raw(raw, dir)
    }

    fn from_raw(raw: RawProfile, dir: &Path) -> Result<Profile, ProfileError> {
        let base_url = parse_base_url(&raw.base_url)?;
        let mut clients = BTreeMap::new();
        for (role, c) in &raw.clients {
            if !CLIENT_ROLES.contains(&role.as_str()) {
                return Err(ProfileError::ClientRole { role: role.clone() });
            }
            let field = format!("clients.{role}");
            let secret = match &c.secret {
                Some(s) => Some(s.resolve(&format!("{field}.secret"))?),
                None => None,
            };
            let mut keys = Vec::new();
            if let Some(file) = &c.key_file {
                let alg = c.alg.clone().unwrap_or_else(|| "ES384".into());
                keys.push(read_key(
                    &RawKey {
                        key_file: file.clone(),
                        kid: c.kid.clone(),
                        alg,
                    },
                    dir,
                    &field,
                )?);
            }
            for (i, k) in c.extra_keys.iter().enumerate() {
                keys.push(read_key(k, dir, &format!("{field}.extra_keys[{i}]"))?);
            }
            match (role.as_str(), c.token_cap) {
                ("capped", None) => return Err(ProfileError::TokenCapMissing { field }),
                (r, Some(_)) if r != "capped" => {
                    return Err(ProfileError::TokenCapNotCapped { field })
                }
                _ => {}
            }
            clients.insert(
                role.clone(),
                Client {
                    id: c.id.clone(),
                    secret,
                    redirect_uri: c.redirect_uri.clone(),
                    scope: c.scope.clone(),
                    keys,
                    forbidden_scopes: if c.forbidden_scopes.is_empty() {
                        raw.scopes.forbidden.clone()
                    } else {
                        c.forbidden_scopes.clone()
                    },
                    token_cap: c.token_cap,
                },
            );
        }
        let mut users = BTreeMap::new();
        for (role, u) in &raw.users {
            if !USER_ROLES.contains(&role.as_str()) {
                return Err(ProfileError::UserRole { role: role.clone() });
            }
            users.insert(
                role.clone(),
                User {
                    subject: u.subject.clone(),
                    user_id: u.user_id.clone(),
                    email: u.email.clone(),
                    login_hint: u.login_hint.clone(),
                },
            );
        }
        let login = match raw.login.mode.as_str() {
            "login_hint" => LoginMode::LoginHint,
            "interactive" => LoginMode::Interactive,
            "none" => LoginMode::None,
            "session" => {
                let s = raw
                    .login
                    .session
                    .as_ref()
                    .ok_or(ProfileError::SessionMissing)?;
                let mut cookies = BTreeMap::new();
                for (k, v) in &s.cookies {
                    cookies.insert(k.clone(), v.resolve(&format!("login.session.cookies.{k}"))?);
                }
                let mut headers = BTreeMap::new();
                for (k, v) in &s.headers {
                    headers.insert(k.clone(), v.resolve(&format!("login.session.headers.{k}"))?);
                }
                LoginMode::Session { cookies, headers }
            }
            other => {
                return Err(ProfileError::LoginMode {
                    mode: other.to_string(),
                })
            }
        };
        let ca_pem = match &raw.tls.ca_file {
            Some(f) => {
                let p = dir.join(f);
                Some(std::fs::read(&p).map_err(|source| ProfileError::ReadFile {
                    field: "tls.ca_file".into(),
                    path: p.clone(),
                    source,
                })?)
            }
            None => None,
        };
        let unregistered_key = match &raw.unregistered_key {
            Some(k) => Some(read_key(k, dir, "unregistered_key")?),
            None => None,
        };
        let token_endpoint_explicit = raw.token_endpoint.is_some();
        let token_endpoint = raw
            .token_endpoint
            .clone()
            .unwrap_or_else(|| default_token_endpoint(&base_url));
        let rate_limit = match raw.rate_limit {
            Some(r) if !(r > 0.0 && r.is_finite()) => return Err(ProfileError::RateLimit),
            r => r,
        };
        let profile = Profile {
            name: raw.name,
            description: raw.description,
            base_url,
            allowed_hosts: raw.allowed_hosts,
            token_endpoint,
            clients,
            users,
            scopes_allowed: raw.scopes.allowed,
            scopes_forbidden: raw.scopes.forbidden,
            login,
            request_timeout: Duration::from_millis(raw.timeouts.request_ms.unwrap_or(10_000)),
            case_timeout: Duration::from_millis(raw.timeouts.case_ms.unwrap_or(60_000)),
            max_body_bytes: raw.max_body_bytes.unwrap_or(1 << 20),
            redirect_limit: raw.redirect_limit.unwrap_or(10),
            request_budget: raw.request_budget,
            rate_limit,
            allow_destructive: raw.allow_destructive,
            accept_invalid_certs: raw.tls.accept_invalid_certs,
            ca_pem,
            token_exchange: raw.features.token_exchange.unwrap_or(true),
            discovery: raw.features.discovery.unwrap_or(true),
            refresh_public: raw.features.refresh_public.unwrap_or(true),
            assertion_impersonation: raw.features.assertion_impersonation.unwrap_or(true),
            lifetimes: [
                ("code", raw.lifetimes.code_seconds),
                ("refresh_token", raw.lifetimes.refresh_token_seconds),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
            .collect(),
            max_wait_seconds: raw.max_wait_seconds.unwrap_or(DEFAULT_MAX_WAIT_SECONDS),
            unregistered_key,
            fidelity: raw.fidelity,
            stall_detection: true,
            retry_rate_limited: true,
            token_endpoint_explicit,
        };
        Ok(profile)
    }

    /// Points the profile at another URL (the CLI's `--target`, the embedded server's
    /// port). The token endpoint follows unless the profile fixed it explicitly.
    pub fn with_base_url(mut self, base_url: &str) -> Result<Profile, ProfileError> {
        self.base_url = parse_base_url(base_url)?;
        if !self.token_endpoint_explicit {
            self.token_endpoint = default_token_endpoint(&self.base_url);
        }
        Ok(self)
    }

    /// Refuses a base URL whose host the profile does not list, so a profile for one
    /// tenant cannot be pointed at another by mistake.
    pub fn check_target(&self) -> Result<(), ProfileError> {
        let host = self
            .base_url
            .host_str()
            .ok_or_else(|| ProfileError::BaseUrlHost {
                url: self.base_url.to_string(),
            })?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if self.allowed_hosts.iter().any(|h| {
            let h = h.trim_start_matches('[').trim_end_matches(']');
            h.eq_ignore_ascii_case(host)
                || (h.starts_with("*.")
                    && host.len() > h.len() - 1
                    && host
                        .to_ascii_lowercase()
                        .ends_with(&h[1..].to_ascii_lowercase()))
        }) {
            Ok(())
        } else {
            Err(ProfileError::HostNotAllowed {
                host: host.to_string(),
                allowed_hosts: self.allowed_hosts.clone(),
            })
        }
    }

    /// The base URL without a trailing slash, for joining with case paths.
    pub fn base(&self) -> &str {
        self.base_url.as_str().trim_end_matches('/')
    }

    /// What the target can do, as the case format's capability names.
    pub fn capabilities(&self) -> Vec<String> {
        let mut caps = Vec::new();
        if !matches!(self.login, LoginMode::None) {
            caps.push("login".to_string());
        }
        // A replayed session signs in the user it belongs to, whatever a step names.
        if matches!(self.login, LoginMode::LoginHint | LoginMode::Interactive) {
            caps.push("login.other_users".to_string());
        }
        for role in CLIENT_ROLES {
            if let Some(c) = self.clients.get(*role) {
                if *role == "assertion" && c.keys.is_empty() {
                    continue;
                }
                caps.push(format!("client.{role}"));
            }
        }
        for role in ["other", "disabled", "suspendable"] {
            if self.users.contains_key(role) {
                caps.push(format!("user.{role}"));
            }
        }
        if self.token_exchange {
            caps.push("token_exchange".into());
        }
        if self.discovery {
            caps.push("discovery".into());
        }
        if let Some(a) = self.clients.get("assertion") {
            for k in &a.keys {
                let cap = format!("assertion.{}", k.alg);
                if !caps.contains(&cap) {
                    caps.push(cap);
                }
            }
            if a.keys.len() >= 2 && a.keys.iter().filter(|k| k.kid.is_some()).count() >= 2 {
                caps.push("assertion.two_keys".into());
            }
            if self.assertion_impersonation {
                caps.push("assertion_impersonation".into());
            }
        }
        for (role, c) in &self.clients {
            if !c.forbidden_scopes.is_empty() {
                caps.push(format!("client.{role}.forbidden_scope"));
            }
        }
        if self.refresh_public {
            caps.push("refresh_public".into());
        }
        if self.clients.contains_key("limited") {
            caps.push("rate_limit".into());
        }
        caps
    }

    /// Why the profile cannot provide `capability`, or `None` when it can.
    pub fn missing(&self, capability: &str) -> Option<String> {
        if self.capabilities().iter().any(|c| c == capability) {
            return None;
        }
        Some(match capability {
            "login" => {
                "the profile's login mode is none, so no authorization code can be obtained".into()
            }
            "login.other_users" => "the profile's login mode is session, whose user is the session's: a sign-in as another user needs login_hint or interactive".into(),
            c if c.starts_with("client.") => format!("the profile has no {} client", &c[7..]),
            c if c.starts_with("user.") => format!("the profile has no {} user", &c[5..]),
            "rate_limit" => "the profile has no limited client to provoke 429 with".into(),
            c if c.starts_with("assertion.") && c != "assertion.two_keys" => format!(
                "the profile's assertion client has no {} key (key_file or extra_keys with that alg)",
                &c[10..]
            ),
            "assertion.two_keys" => {
                "the profile's assertion client has fewer than two keys with a kid".into()
            }
            c if c.ends_with(".forbidden_scope") => format!(
                "the profile names no scope forbidden to its {} client (clients.{0}.forbidden_scopes or scopes.forbidden)",
                c.trim_start_matches("client.").trim_end_matches(".forbidden_scope")
            ),
            c => format!("the profile disables {c} (features.{c})"),
        })
    }

    /// The target's lifetime of a kind (`code`, `refresh_token`) in seconds, if known.
    pub fn lifetime(&self, kind: &str) -> Option<u64> {
        self.lifetimes.get(kind).copied()
    }

    /// Every secret the profile holds, named, for redaction.
    pub fn secrets(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (role, c) in &self.clients {
            if let Some(s) = &c.secret {
                out.push((format!("clients.{role}.secret"), s.clone()));
            }
        }
        if let LoginMode::Session { cookies, headers } = &self.login {
            for (k, v) in cookies {
                out.push((format!("session.cookie.{k}"), v.clone()));
            }
            for (k, v) in headers {
                out.push((format!("session.header.{k}"), v.clone()));
            }
        }
        out
    }

    /// The value of a profile template name (`clients.public.id`), `Ok(None)` when the
    /// name is known but this profile lacks the value, `Err` for an unknown name.
    pub fn lookup(&self, name: &str) -> Result<Option<String>, ProfileError> {
        let parts: Vec<&str> = name.split('.').collect();
        match parts.as_slice() {
            ["base_url"] => Ok(Some(self.base().to_string())),
            ["token_endpoint"] => Ok(Some(self.token_endpoint.clone())),
            ["scopes", "allowed"] => Ok(Some(self.scopes_allowed.join(" "))),
            ["scopes", "forbidden"] => Ok(Some(self.scopes_forbidden.join(" "))),
            ["clients", role, field] if CLIENT_ROLES.contains(role) => {
                let Some(c) = self.clients.get(*role) else {
                    return Ok(None);
                };
                Ok(match *field {
                    "id" => Some(c.id.clone()),
                    "secret" => c.secret.clone(),
                    "redirect_uri" => c.redirect_uri.clone(),
                    "scope" => c.scope.clone(),
                    "kid" => c.keys.first().and_then(|k| k.kid.clone()),
                    // Another registered key's kid: a kid that names the wrong key.
                    "other_kid" => c.keys.get(1).and_then(|k| k.kid.clone()),
                    "forbidden_scope" => c.forbidden_scopes.first().cloned(),
                    other => {
                        return Err(ProfileError::ClientField {
                            role: role.to_string(),
                            field: other.to_string(),
                        })
                    }
                })
            }
            ["users", role, field] if USER_ROLES.contains(role) => {
                let Some(u) = self.users.get(*role) else {
                    return Ok(None);
                };
                Ok(match *field {
                    "subject" => u.subject.clone(),
                    "user_id" => u.user_id.clone(),
                    "email" => u.email.clone(),
                    "login_hint" => u.login_hint.clone(),
                    other => {
                        return Err(ProfileError::UserField {
                            role: role.to_string(),
                            field: other.to_string(),
                        })
                    }
                })
            }
            _ => Err(ProfileError::NotAValue {
                name: name.to_string(),
            }),
        }
    }
}

/// Whether a template name is a profile value by shape, independent of any profile; used
/// to check case files at load time.
pub fn is_profile_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    match parts.as_slice() {
        ["base_url"] | ["token_endpoint"] => true,
        ["scopes", "allowed" | "forbidden"] => true,
        ["clients", role, field] => CLIENT_ROLES.contains(role) && CLIENT_FIELDS.contains(field),
        ["users", role, field] => USER_ROLES.contains(role) && USER_FIELDS.contains(field),
        _ => false,
    }
}

/// The capability a profile name depends on (`clients.consent.id` -> `client.consent`).
pub fn capability_of(name: &str) -> Option<String> {
    let parts: Vec<&str> = name.split('.').collect();
    match parts.as_slice() {
        ["clients", _, "other_kid"] => Some("assertion.two_keys".into()),
        ["clients", role, "forbidden_scope"] => Some(format!("client.{role}.forbidden_scope")),
        ["clients", role, _] => Some(format!("client.{role}")),
        ["users", role, _] if *role != "default" => Some(format!("user.{role}")),
        _ => None,
    }
}

fn parse_base_url(s: &str) -> Result<url::Url, ProfileError> {
    let url = || s.to_string();
    let u = url::Url::parse(s).map_err(|source| ProfileError::BaseUrl { url: url(), source })?;
    if u.scheme() != "http" && u.scheme() != "https" {
        return Err(ProfileError::BaseUrlScheme { url: url() });
    }
    if u.host_str().is_none() {
        return Err(ProfileError::BaseUrlHost { url: url() });
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(ProfileError::BaseUrlCredentials);
    }
    Ok(u)
}

fn default_token_endpoint(base: &url::Url) -> String {
    format!("{}/oauth/token", base.as_str().trim_end_matches('/'))
}

/// The profile schema, compiled once; profiles are validated against the same file
/// external tools use.
fn validate_against_schema(value: &serde_json::Value) -> Result<(), ProfileError> {
    use std::sync::OnceLock;
    static SCHEMA: OnceLock<Option<jsonschema::Validator>> = OnceLock::new();
    let validator = SCHEMA.get_or_init(|| {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../../cases/profiles/profile.schema.json"))
                .ok()?;
        jsonschema::validator_for(&schema).ok()
    });
    let Some(v) = validator else {
        return Err(ProfileError::SchemaUnusable);
    };
    let violations: Vec<String> = v
        .iter_errors(value)
        .map(|e| {
            let path = e.instance_path().to_string();
            format!("{}: {}", if path.is_empty() { "/" } else { &path }, e)
        })
        .collect();
    if violations.is_empty() {
        Ok(())
    } else {
        Err(ProfileError::Schema { violations })
    }
}

/// The committed profile of the default fixture, with a placeholder base URL.
pub fn reference_profile_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../cases/profiles/reference.json")
}

/// Loads the reference profile (of the default fixture) without starting anything.
pub fn reference_profile() -> Result<Profile, ProfileError> {
    Profile::load(&reference_profile_path())
}
