//! The reference tenant a test talks to, its RFC 8414 endpoints, and the fixture's
//! clients. By default the reference runs in-process over TLS with a certificate made at
//! start-up, so `cargo test` needs nothing else. `interop/run.sh` instead points the tests
//! at the server it started (`QOAUTH_HTTPS_URL`, `QOAUTH_TLS_CERT`, `QOAUTH_FIXTURE`), so
//! that they drive the same binary as the Node and Python suites, `QOAUTH_BIN` included.

use std::fmt;
use std::net::SocketAddr;

use anyhow::{bail, ensure, Context as _};
use qoauth_reference::{spawn_with, Fixture, RunningServer, Tls};
use serde_json::Value;

/// The user the test IdP signs in when the authorize URL names it in `login_hint` (the
/// hint matches a fixture user's id, subject or email).
pub const LOGIN_HINT: &str = "alice@example.com";

/// The endpoints the tenant publishes in its RFC 8414 metadata, which is where an
/// application configuring the crate would read them.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub issuer: String,
    pub authorization: String,
    pub token: String,
    pub revocation: String,
}

/// The base URL of a server started elsewhere; when set, the tests use it.
pub const URL_VAR: &str = "QOAUTH_HTTPS_URL";
/// The PEM certificate that server's clients must trust.
pub const CERT_VAR: &str = "QOAUTH_TLS_CERT";
/// The fixture that server was started with (the default fixture when unset).
pub const FIXTURE_VAR: &str = "QOAUTH_FIXTURE";

/// A reference server over TLS and what a client needs to reach it.
pub struct Tenant {
    /// `None` when the server runs elsewhere (`QOAUTH_HTTPS_URL`).
    server: Option<RunningServer>,
    base_url: String,
    cert: reqwest::Certificate,
    pub endpoints: Endpoints,
}

impl Tenant {
    /// The server named by `QOAUTH_HTTPS_URL`, or else a fresh in-process one. Always
    /// TLS: the crate refuses a revocation endpoint that is not https (RFC 7009 2), and a
    /// tenant is always https.
    pub async fn start() -> anyhow::Result<Tenant> {
        match std::env::var(URL_VAR) {
            Ok(url) if !url.is_empty() => Tenant::external(url.trim_end_matches('/')).await,
            _ => Tenant::in_process().await,
        }
    }

    async fn external(base: &str) -> anyhow::Result<Tenant> {
        ensure!(
            base.starts_with("https://"),
            "{URL_VAR} is not an https URL: {base}"
        );
        let path = std::env::var(CERT_VAR).with_context(|| {
            format!("{URL_VAR} is set, so {CERT_VAR} must name its certificate")
        })?;
        let pem = std::fs::read(&path).with_context(|| format!("cannot read {CERT_VAR} {path}"))?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .with_context(|| format!("{CERT_VAR} {path} is not a PEM certificate"))?;
        let endpoints = discover(base, &builder(&cert).build()?).await?;
        Ok(Tenant {
            server: None,
            base_url: base.to_owned(),
            cert,
            endpoints,
        })
    }

    /// The reference with the default fixture on a free loopback port.
    async fn in_process() -> anyhow::Result<Tenant> {
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        let server = spawn_with(Fixture::default_fixture(), addr, Tls::Generated)
            .await
            .context("cannot start the reference server")?;
        let pem = server
            .tls_cert_pem
            .clone()
            .context("the TLS server generated no certificate")?;
        let cert = reqwest::Certificate::from_pem(pem.as_bytes())
            .context("the generated certificate is not valid PEM")?;
        let base = server.base_url.clone();
        ensure!(base.starts_with("https://"), "not a TLS server: {base}");
        let endpoints = discover(&base, &builder(&cert).build()?).await?;
        Ok(Tenant {
            server: Some(server),
            base_url: base,
            cert,
            endpoints,
        })
    }

    /// `https://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The HTTP client handed to the crate (and used by the probes): it trusts only the
    /// run's certificate, keeps no cookies and never follows redirects, as the crate's
    /// documentation asks of it (a token endpoint that redirects is an SSRF vector).
    pub fn http(&self) -> reqwest::Client {
        builder(&self.cert).build().expect("a reqwest client")
    }

    /// A user agent for the authorize step: the same, plus a cookie jar for the IdP's
    /// session cookie.
    pub fn browser(&self) -> reqwest::Client {
        builder(&self.cert)
            .cookie_store(true)
            .build()
            .expect("a reqwest client")
    }

    /// Stops the server if the test started it.
    pub async fn shutdown(self) {
        if let Some(server) = self.server {
            server.shutdown().await;
        }
    }
}

fn builder(cert: &reqwest::Certificate) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(cert.clone())
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
}

async fn discover(base: &str, http: &reqwest::Client) -> anyhow::Result<Endpoints> {
    let url = format!("{base}/.well-known/oauth-authorization-server");
    let resp = http.get(&url).send().await?;
    ensure!(resp.status() == 200, "metadata: HTTP {}", resp.status());
    let meta: Value = resp.json().await.context("metadata is not JSON")?;
    let field = |name: &str| -> anyhow::Result<String> {
        match meta.get(name).and_then(Value::as_str) {
            Some(v) if v.starts_with(base) => Ok(v.to_owned()),
            Some(v) => bail!("metadata {name} is {v}, not on {base}"),
            None => bail!("metadata has no {name}"),
        }
    };
    Ok(Endpoints {
        issuer: field("issuer")?,
        authorization: field("authorization_endpoint")?,
        token: field("token_endpoint")?,
        revocation: field("revocation_endpoint")?,
    })
}

/// A client registered in the default fixture, with its first secret and the redirect URI
/// the tests use (a loopback one when it has one).
#[derive(Clone)]
pub struct FixtureClient {
    pub id: String,
    pub secret: Option<String>,
    pub redirect_uri: String,
}

/// Secrets stay out of test output, even of a failed assertion's debug print.
impl fmt::Debug for FixtureClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixtureClient")
            .field("id", &self.id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("redirect_uri", &self.redirect_uri)
            .finish()
    }
}

/// The fixture the tenant serves: `QOAUTH_FIXTURE` for a server started elsewhere, the
/// default fixture otherwise.
pub fn fixture() -> anyhow::Result<Value> {
    let external = std::env::var(URL_VAR).is_ok_and(|u| !u.is_empty());
    match std::env::var(FIXTURE_VAR) {
        Ok(path) if external && !path.is_empty() => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {FIXTURE_VAR} {path}"))?;
            serde_json::from_str(&text).with_context(|| format!("{path} is not JSON"))
        }
        _ => Ok(serde_json::from_str(Fixture::default_json())?),
    }
}

/// The access token lifetime the fixture gives, in seconds.
pub fn access_token_seconds() -> anyhow::Result<u64> {
    fixture()?["lifetimes"]["access_token_seconds"]
        .as_u64()
        .context("the fixture has no access token lifetime")
}

/// Reads a client from the fixture, so that the tests follow its secrets and redirect
/// URIs instead of copying them.
pub fn fixture_client(id: &str) -> anyhow::Result<FixtureClient> {
    let fixture = fixture()?;
    let clients = fixture["clients"]
        .as_array()
        .context("the fixture has no clients")?;
    let c = clients
        .iter()
        .find(|c| c["client_id"] == id)
        .with_context(|| format!("client {id} is not in the fixture"))?;
    let secret = c["secrets"]
        .as_array()
        .and_then(|s| s.first())
        .and_then(Value::as_str)
        .map(str::to_owned);
    let uris: Vec<&str> = c["redirect_uris"]
        .as_array()
        .map(|u| u.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let redirect_uri = uris
        .iter()
        .find(|u| u.starts_with("http://127.0.0.1"))
        .or(uris.first())
        .with_context(|| format!("client {id} has no redirect URI"))?
        .to_string();
    Ok(FixtureClient {
        id: id.to_owned(),
        secret,
        redirect_uri,
    })
}
