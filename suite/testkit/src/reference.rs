//! The reference on its default fixture (`suite/reference/fixtures/default.json`): the
//! clients tests use by name, a server started for one test, and client assertions signed
//! with the fixture's keys.
//!
//! The constants repeat what the fixture says; a test that uses one checks the fixture as
//! much as the server, so a fixture edit that changes them fails loudly here.

use qoauth_reference::{spawn, Fixture, RunningServer};
use serde_json::{json, Value};

use crate::paths::repo_root;
use crate::server::loopback;

/// A confidential web client with a secret, allowed the code and client_credentials grants.
pub const CONF_ID: &str = "web-confidential";
pub const CONF_SECRET: &str = "wc-secret-2f8e6a1d9c4b7e30a5f1";
pub const CONF_REDIRECT: &str = "https://app.example.com/callback";
/// A native public client (no secret), with a loopback redirect.
pub const PUBLIC_ID: &str = "native-public";
pub const PUBLIC_REDIRECT: &str = "http://127.0.0.1:8765/callback";
/// A public client that asks the user for consent.
pub const CONSENT_ID: &str = "spa-consent";
pub const CONSENT_REDIRECT: &str = "http://localhost:3000/callback";
/// A confidential client allowed user impersonation.
pub const IMP_ID: &str = "web-impersonation";
pub const IMP_SECRET: &str = "wi-secret-7c1f3e9a5b2d8064e1c7";
/// A client that authenticates with signed assertions (RFC 7523) only.
pub const ASSERT_ID: &str = "web-assertion";
/// A confidential client with a small per-client rate limit.
pub const LIMITED_ID: &str = "web-limited";
pub const LIMITED_SECRET: &str = "wl-secret-0d4b8f2a6e1c9357b3a9";
/// A confidential client whose cap is 20 live tokens per user.
pub const CAPPED_ID: &str = "web-capped";
pub const CAPPED_SECRET: &str = "wk-secret-3a9d6f1c8e2b7054d1f6";
/// A confidential client whose tokens may change a user's status (the users API).
pub const ADMIN_ID: &str = "web-admin";
pub const ADMIN_SECRET: &str = "wd-secret-8b1e4c7a2f9d3065e8b2";
/// The active user the users API tests disable.
pub const SUSPENDABLE_USER: &str = "user-erin";

/// Starts the reference on its default fixture on a free loopback port.
pub async fn start() -> RunningServer {
    spawn(Fixture::default_fixture(), loopback())
        .await
        .expect("the reference starts")
}

/// Starts the reference on a variant of the default fixture: `edit` changes its JSON.
pub async fn start_with(edit: impl FnOnce(&mut Value)) -> RunningServer {
    let mut v: Value =
        serde_json::from_str(Fixture::default_json()).expect("the default fixture is JSON");
    edit(&mut v);
    let f = Fixture::from_json(&v.to_string()).expect("the edited fixture loads");
    spawn(f, loopback()).await.expect("the reference starts")
}

/// `cases/profiles/keys`: the private keys of the fixture's assertion client, and one it
/// does not register.
pub fn keys_dir() -> std::path::PathBuf {
    repo_root().join("cases/profiles/keys")
}

/// Seconds since the Unix epoch, for `iat` and `exp`.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs()
}

/// Signs `claims` as a client assertion with the key in `key_file` (under [`keys_dir`]),
/// algorithm `alg` and header `kid`.
pub fn assertion(
    key_file: &str,
    alg: jsonwebtoken::Algorithm,
    kid: Option<&str>,
    claims: Value,
) -> String {
    let pem =
        std::fs::read(keys_dir().join(key_file)).unwrap_or_else(|e| panic!("{key_file}: {e}"));
    let key = match alg {
        jsonwebtoken::Algorithm::ES384 => {
            jsonwebtoken::EncodingKey::from_ec_pem(&pem).expect("an EC key")
        }
        _ => jsonwebtoken::EncodingKey::from_rsa_pem(&pem).expect("an RSA key"),
    };
    let mut header = jsonwebtoken::Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, &claims, &key).expect("the assertion signs")
}

/// Valid claims for [`ASSERT_ID`] at `srv`'s token endpoint: a fresh `jti`, one minute to
/// live.
pub fn assertion_claims(srv: &RunningServer) -> Value {
    let t = now();
    json!({
        "iss": ASSERT_ID,
        "sub": ASSERT_ID,
        "aud": format!("{}/oauth/token", srv.base_url),
        "jti": uuid::Uuid::new_v4().to_string(),
        "iat": t,
        "exp": t + 60,
    })
}
