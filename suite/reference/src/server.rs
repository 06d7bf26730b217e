//! Running the app on a socket: in-process for the harness and tests ([`spawn`]), or as
//! the `qoauth serve` command ([`serve`]), over plain HTTP or TLS (rustls with ring).

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use axum_server::accept::NoDelayAcceptor;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use axum_server::Handle;
use tokio::task::JoinHandle;

use crate::app::{build, AppHandle};
use crate::faults::Faults;
use crate::fixture::{Fixture, FixtureError};
use crate::store::StoreStats;
use crate::variants::Variants;

/// Why the reference could not start, or `qoauth serve` could not go on serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot bind {addr}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The listener is handed to the async runtime, which needs it non-blocking and must
    /// know its port (an ephemeral one when port 0 was asked for).
    #[error("cannot set up the listener bound to {addr}")]
    Listener {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot load TLS certificate {} and key {}", cert.display(), key.display())]
    TlsFiles {
        cert: PathBuf,
        key: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot generate a certificate")]
    GenerateCertificate { source: rcgen::Error },
    #[error("cannot use the generated certificate")]
    UseCertificate { source: std::io::Error },
    #[error("the fixture {} is refused", path.display())]
    Fixture { path: PathBuf, source: FixtureError },
    /// Handlers are installed before the base URL is printed (see `ShutdownSignal`), so a
    /// server that cannot stop gracefully does not start.
    #[error("cannot handle {signal}")]
    Signal {
        signal: &'static str,
        source: std::io::Error,
    },
    /// A supervisor reads the base URL from the first line of stdout; without it the
    /// server cannot be found, so serving would be pointless.
    #[error("cannot print the base URL")]
    Stdout { source: std::io::Error },
    #[error("cannot write the certificate to {}", path.display())]
    WriteCertificate {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// How the listener speaks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Tls {
    /// Plain HTTP.
    #[default]
    None,
    /// A self-signed certificate for localhost, 127.0.0.1, ::1 and the bound address,
    /// made at start-up.
    Generated,
    /// A PEM certificate chain and private key.
    Files { cert: PathBuf, key: PathBuf },
}

/// Options of `qoauth serve`.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    /// The shipped default fixture when `None`.
    pub fixture_path: Option<PathBuf>,
    pub tls: Tls,
    /// Deliberate rule breaks (`--fault`); always empty without the `faults` feature.
    pub faults: Faults,
    /// Permitted behaviours other than the reference's own (`--variant`).
    pub variants: Variants,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            fixture_path: None,
            tls: Tls::None,
            faults: Faults::default(),
            variants: Variants::default(),
        }
    }
}

/// A server running in the current tokio runtime.
pub struct RunningServer {
    /// `http://127.0.0.1:PORT` (or https), without a trailing slash.
    pub base_url: String,
    pub local_addr: SocketAddr,
    /// The certificate clients must trust, when it was generated.
    pub tls_cert_pem: Option<String>,
    app: AppHandle,
    handle: Handle,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// Stops accepting, lets in-flight requests finish (up to 5 s), and waits.
    pub async fn shutdown(self) {
        self.handle.graceful_shutdown(Some(Duration::from_secs(5)));
        let _ = self.task.await;
    }

    /// Sizes of the server's stores.
    pub fn stats(&self) -> StoreStats {
        self.app.stats()
    }

    /// The running app, for in-process observation.
    pub fn app(&self) -> &AppHandle {
        &self.app
    }
}

/// Runs the reference on `addr` (use port 0 for an ephemeral one) over plain HTTP.
pub async fn spawn(fixture: Fixture, addr: SocketAddr) -> Result<RunningServer, ServeError> {
    spawn_with(fixture, addr, Tls::None).await
}

/// Runs the reference on `addr` with the given TLS choice.
pub async fn spawn_with(
    fixture: Fixture,
    addr: SocketAddr,
    tls: Tls,
) -> Result<RunningServer, ServeError> {
    spawn_faulty(fixture, addr, tls, Faults::default()).await
}

/// Runs the reference with a set of deliberate rule breaks (the detection matrix); with
/// an empty set (always, without the `faults` feature) it is [`spawn_with`].
pub async fn spawn_faulty(
    fixture: Fixture,
    addr: SocketAddr,
    tls: Tls,
    faults: Faults,
) -> Result<RunningServer, ServeError> {
    spawn_varied(fixture, addr, tls, faults, Variants::default()).await
}

/// Runs the reference with deliberate rule breaks and permitted variants (the latitude
/// matrix); with both sets empty it is [`spawn_with`].
pub async fn spawn_varied(
    fixture: Fixture,
    addr: SocketAddr,
    tls: Tls,
    faults: Faults,
    variants: Variants,
) -> Result<RunningServer, ServeError> {
    let listener =
        std::net::TcpListener::bind(addr).map_err(|source| ServeError::Bind { addr, source })?;
    let set_up = |source| ServeError::Listener { addr, source };
    listener.set_nonblocking(true).map_err(set_up)?;
    let local_addr = listener.local_addr().map_err(set_up)?;
    let secure = tls != Tls::None;
    let (router, app) = build(fixture, secure, faults, variants);
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let handle = Handle::new();
    let mut tls_cert_pem = None;
    // TCP_NODELAY on every connection: a response that leaves in more than one segment (a
    // TLS record after the handshake, a login page) would otherwise wait on Nagle's
    // algorithm for the client's delayed ACK, a stall of up to 40 ms on loopback.
    let task = match tls {
        Tls::None => {
            let server = axum_server::from_tcp(listener)
                .acceptor(NoDelayAcceptor)
                .handle(handle.clone());
            tokio::spawn(server.serve(service))
        }
        Tls::Generated | Tls::Files { .. } => {
            // One process-wide provider; a second install attempt just reports the first.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let config = match &tls {
                Tls::Files { cert, key } => {
                    let files = |source| ServeError::TlsFiles {
                        cert: cert.clone(),
                        key: key.clone(),
                        source,
                    };
                    RustlsConfig::from_pem_file(cert, key)
                        .await
                        .map_err(files)?
                }
                _ => {
                    let (cert, key) = generate_certificate(local_addr.ip())?;
                    let config =
                        RustlsConfig::from_pem(cert.clone().into_bytes(), key.into_bytes())
                            .await
                            .map_err(|source| ServeError::UseCertificate { source })?;
                    tls_cert_pem = Some(cert);
                    config
                }
            };
            let server = axum_server::from_tcp(listener)
                .acceptor(RustlsAcceptor::new(config).acceptor(NoDelayAcceptor))
                .handle(handle.clone());
            tokio::spawn(server.serve(service))
        }
    };
    let host = match local_addr.ip() {
        ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        ip => ip,
    };
    let host = match host {
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    };
    let scheme = if secure { "https" } else { "http" };
    Ok(RunningServer {
        base_url: format!("{scheme}://{host}:{}", local_addr.port()),
        local_addr,
        tls_cert_pem,
        app,
        handle,
        task,
    })
}

/// A self-signed certificate and its key, both PEM.
fn generate_certificate(ip: IpAddr) -> Result<(String, String), ServeError> {
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if !ip.is_unspecified() && !ip.is_loopback() {
        names.push(ip.to_string());
    }
    let ck = rcgen::generate_simple_self_signed(names)
        .map_err(|source| ServeError::GenerateCertificate { source })?;
    Ok((ck.cert.pem(), ck.key_pair.serialize_pem()))
}

/// The `qoauth serve` command: prints the base URL as the first line of stdout, serves
/// until SIGINT or SIGTERM, then shuts down gracefully.
pub async fn serve(opts: ServeOptions) -> Result<(), ServeError> {
    let fixture = match &opts.fixture_path {
        Some(p) => Fixture::from_path(p).map_err(|source| ServeError::Fixture {
            path: p.clone(),
            source,
        })?,
        None => Fixture::default_fixture(),
    };
    let shutdown = ShutdownSignal::install()?;
    let server = spawn_varied(
        fixture,
        opts.addr,
        opts.tls.clone(),
        opts.faults,
        opts.variants,
    )
    .await?;
    for v in opts.variants.iter() {
        tracing::info!(
            variant = v.name(),
            clause = v.clause(),
            "permitted variant enabled"
        );
    }
    #[cfg(feature = "faults")]
    for f in opts.faults.iter() {
        tracing::warn!(
            fault = f.name(),
            rule = f.rule(),
            "deliberate rule break enabled"
        );
    }
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", server.base_url)
            .and_then(|()| out.flush())
            .map_err(|source| ServeError::Stdout { source })?;
    }
    if let Some(pem) = &server.tls_cert_pem {
        let path =
            std::env::temp_dir().join(format!("qoauth-reference-{}.pem", server.local_addr.port()));
        std::fs::write(&path, pem).map_err(|source| ServeError::WriteCertificate {
            path: path.clone(),
            source,
        })?;
        eprintln!("generated TLS certificate: {}", path.display());
    }
    tracing::info!(base_url = %server.base_url, "reference server listening");
    shutdown.received().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

/// SIGINT and SIGTERM handlers, installed before the base URL is printed: a supervisor that
/// signals as soon as it has read the URL must find them in place, not kill the process.
struct ShutdownSignal {
    #[cfg(unix)]
    signals: (tokio::signal::unix::Signal, tokio::signal::unix::Signal),
}

impl ShutdownSignal {
    fn install() -> Result<Self, ServeError> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let handle = |kind, name| {
                signal(kind).map_err(|source| ServeError::Signal {
                    signal: name,
                    source,
                })
            };
            Ok(ShutdownSignal {
                signals: (
                    handle(SignalKind::interrupt(), "SIGINT")?,
                    handle(SignalKind::terminate(), "SIGTERM")?,
                ),
            })
        }
        #[cfg(not(unix))]
        Ok(ShutdownSignal {})
    }

    async fn received(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.signals.0.recv() => {}
            _ = self.signals.1.recv() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = &mut self;
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
