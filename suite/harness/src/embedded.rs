//! The reference server started in-process, with the profile that describes it: what a
//! run targets when no target is given.

use crate::profile::{reference_profile, Profile, ProfileError};
use std::net::SocketAddr;

/// Why the embedded reference could not be started and described.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("cannot start the reference server")]
    Server {
        source: qoauth_reference::ServeError,
    },
    #[error("the reference profile does not load")]
    Profile { source: ProfileError },
    /// The server listens on a free port, which the profile must take.
    #[error("the reference profile does not take the server's URL {url}")]
    BaseUrl { url: String, source: ProfileError },
}

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
pub async fn start() -> Result<Embedded, EmbeddedError> {
    start_with(false).await
}

/// Like [`start`]; with `tls` the server makes a self-signed certificate and the profile
/// trusts exactly that certificate.
pub async fn start_with(tls: bool) -> Result<Embedded, EmbeddedError> {
    let fixture = qoauth_reference::Fixture::default_fixture();
    let addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let server = if tls {
        qoauth_reference::spawn_with(fixture, addr, qoauth_reference::Tls::Generated).await
    } else {
        qoauth_reference::spawn(fixture, addr).await
    }
    .map_err(|source| EmbeddedError::Server { source })?;
    let mut profile = reference_profile()
        .map_err(|source| EmbeddedError::Profile { source })?
        .with_base_url(&server.base_url)
        .map_err(|source| EmbeddedError::BaseUrl {
            url: server.base_url.clone(),
            source,
        })?;
    if let Some(pem) = &server.tls_cert_pem {
        profile.ca_pem = Some(pem.clone().into_bytes());
    }
    Ok(Embedded { profile, server })
}
