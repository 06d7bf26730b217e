//! The reference server started in-process, with the profile that describes it: what a
//! run targets when no target is given.

use crate::profile::{reference_profile, Profile};
use std::net::SocketAddr;

/// A running embedded reference and its profile (base URL filled in).
pub struct Embedded {
    pub profile: Profile,
    pub server: qoauth_reference::RunningServer,
}

impl Embedded {
    /// Stops the server, letting in-flight requests finish.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// Starts the reference with its default fixture on 127.0.0.1 (a free port) over plain
/// HTTP. Must be called inside a tokio runtime, which then serves it.
pub async fn start() -> anyhow::Result<Embedded> {
    start_with(false).await
}

/// Like [`start`]; with `tls` the server makes a self-signed certificate and the profile
/// trusts exactly that certificate.
pub async fn start_with(tls: bool) -> anyhow::Result<Embedded> {
    let fixture = qoauth_reference::Fixture::default_fixture();
    let addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let server = if tls {
        qoauth_reference::spawn_with(fixture, addr, qoauth_reference::Tls::Generated).await?
    } else {
        qoauth_reference::spawn(fixture, addr).await?
    };
    let mut profile = reference_profile()?.with_base_url(&server.base_url)?;
    if let Some(pem) = &server.tls_cert_pem {
        profile.ca_pem = Some(pem.clone().into_bytes());
    }
    Ok(Embedded { profile, server })
}
