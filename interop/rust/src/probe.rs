//! Raw HTTP probes, outside the `oauth2` crate, that tell whether a token the crate holds
//! is alive. The reference serves no resource API, so an access token proves itself as
//! the `subject_token` of a token exchange (RFC 8693) for its own client, sent as @qlik/api
//! sends it (JSON, no client authentication). Failures name statuses and error codes,
//! never a token.

use anyhow::{ensure, Context as _};
use serde_json::{json, Value};

use crate::tenant::Tenant;

pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// The refusal the real service gives when the subject of an exchange is a
/// machine-to-machine token (notes section 2). The reference says it only after finding
/// the token alive, so it proves a client_credentials token works; a dead or unknown token
/// gets another detail.
pub const M2M_EXCHANGE_REFUSAL: &str = "Cannot perform exchange with given Oauth configuration.";

/// The status and JSON body of one probe.
#[derive(Debug)]
pub struct Outcome {
    pub status: u16,
    body: Value,
}

impl Outcome {
    /// `errors[0].detail` of an `Errors` envelope.
    pub fn detail(&self) -> Option<&str> {
        self.body["errors"][0]["detail"].as_str()
    }

    /// `errors[0].status`, which the envelope carries as a string.
    pub fn error_status(&self) -> Option<&str> {
        self.body["errors"][0]["status"].as_str()
    }

    pub fn issued_access_token(&self) -> bool {
        self.status == 200
            && self.body["access_token"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
    }

    /// What a failure message may show: status and the envelope's code and detail.
    pub fn summary(&self) -> String {
        let e = &self.body["errors"][0];
        format!(
            "HTTP {} {} {}",
            self.status,
            e["code"].as_str().unwrap_or("-"),
            e["detail"].as_str().unwrap_or("")
        )
    }
}

/// Exchanges `access_token` (issued to `client_id`) for a websocket token.
pub async fn exchange(
    tenant: &Tenant,
    client_id: &str,
    access_token: &str,
) -> anyhow::Result<Outcome> {
    let resp = tenant
        .http()
        .post(&tenant.endpoints.token)
        .json(&json!({
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": access_token,
            "subject_token_type": ACCESS_TOKEN_TYPE,
            "purpose": "websocket",
            "client_id": client_id,
        }))
        .send()
        .await
        .context("token exchange request")?;
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(Value::Null);
    Ok(Outcome { status, body })
}

/// Fails unless the user's `access_token` is accepted as an exchange subject.
pub async fn access_token_works(
    tenant: &Tenant,
    client_id: &str,
    access_token: &str,
    what: &str,
) -> anyhow::Result<()> {
    let o = exchange(tenant, client_id, access_token).await?;
    ensure!(
        o.issued_access_token(),
        "{what} was refused as an exchange subject: {}",
        o.summary()
    );
    Ok(())
}

/// Fails unless `access_token` is refused as an exchange subject with a 401 envelope
/// other than the live-M2M refusal.
pub async fn access_token_dead(
    tenant: &Tenant,
    client_id: &str,
    access_token: &str,
    what: &str,
) -> anyhow::Result<()> {
    let o = exchange(tenant, client_id, access_token).await?;
    ensure!(
        o.status == 401
            && o.error_status() == Some("401")
            && o.detail() != Some(M2M_EXCHANGE_REFUSAL),
        "{what} still works as an exchange subject: {}",
        o.summary()
    );
    Ok(())
}

/// Fails unless the client_credentials token `access_token` is known and alive.
pub async fn m2m_token_works(
    tenant: &Tenant,
    client_id: &str,
    access_token: &str,
    what: &str,
) -> anyhow::Result<()> {
    let o = exchange(tenant, client_id, access_token).await?;
    ensure!(
        o.status == 401 && o.detail() == Some(M2M_EXCHANGE_REFUSAL),
        "{what} was not recognized as a live M2M token: {}",
        o.summary()
    );
    Ok(())
}
