//! Running the app on a socket: in-process for the harness and tests ([`spawn`]), or as
//! the `qoauth serve` command ([`serve`]), over plain HTTP or TLS (rustls with ring).

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use axum_server::accept::NoDelayAcceptor;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use axum_server::Handle;
use tokio::task::JoinHandle;

use crate::app::{build, AppHandle};
use crate::faults::Faults;
use crate::fixture::Fixture;
use crate::store::StoreStats;
use crate::variants::Variants;

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
pub async fn spawn(fixture: Fixture, addr: SocketAddr) -> anyhow::Result<RunningServer> {
    spawn_with(fixture, addr, Tls::None).await
}

/// Runs the reference on `addr` with the given TLS choice.
pub async fn spawn_with(
    fixture: Fixture,
    addr: SocketAddr,
    tls: Tls,
) -> anyhow::Result<RunningServer> {
    spawn_faulty(fixture, addr, tls, Faults::default()).await
}

/// Runs the reference with a set of deliberate rule breaks (the detection matrix); with
/// an empty set (always, without the `faults` feature) it is [`spawn_with`].
pub async fn spawn_faulty(
    fixture: Fixture,
    addr: SocketAddr,
    tls: Tls,
    faults: Faults,
) -> anyhow::Result<RunningServer> {
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
) -> anyhow::Result<RunningServer> {
    let listener =
        std::net::TcpListener::bind(addr).with_context(|| format!("cannot bind {addr}"))?;
    listener.set_nonblocking(true)?;
    let local_addr = listener.local_addr()?;
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
                Tls::Files { cert, key } => RustlsConfig::from_pem_file(cert, key)
                    .await
                    .with_context(|| {
                        format!(
                            "cannot load TLS certificate {} and key {}",
                            cert.display(),
                            key.display()
                        )
                    })?,
                _ => {
                    let (cert, key) = generate_certificate(local_addr.ip())?;
                    let config =
                        RustlsConfig::from_pem(cert.clone().into_bytes(), key.into_bytes())
                            .await
                            .context("cannot use the generated certificate")?;
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
fn generate_certificate(ip: IpAddr) -> anyhow::Result<(String, String)> {
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if !ip.is_unspecified() && !ip.is_loopback() {
        names.push(ip.to_string());
    }
    let ck = rcgen::generate_simple_self_signed(names).context("cannot generate a certificate")?;
    Ok((ck.cert.pem(), ck.key_pair.serialize_pem()))
}

/// The `qoauth serve` command: prints the base URL as the first line of stdout, serves
/// until SIGINT or SIGTERM, then shuts down gracefully.
pub async fn serve(opts: ServeOptions) -> anyhow::Result<()> {
    let fixture = match &opts.fixture_path {
        Some(p) => Fixture::from_path(p)?,
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
        writeln!(out, "{}", server.base_url)?;
        out.flush()?;
    }
    if let Some(pem) = &server.tls_cert_pem {
        let path =
            std::env::temp_dir().join(format!("qoauth-reference-{}.pem", server.local_addr.port()));
        std::fs::write(&path, pem)
            .with_context(|| format!("cannot write the certificate to {}", path.display()))?;
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
    fn install() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(ShutdownSignal {
                signals: (
                    signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
                    signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
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
