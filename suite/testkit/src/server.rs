//! Servers on a free loopback port for a test to point the suite at.
//!
//! Two kinds: an axum [`Router`] (a stub target, or the reference behind a layer that
//! breaks a rule), and a raw TCP target whose handler gets each connection as it is
//! accepted, for answers no HTTP framework would send (a body that never ends, a header
//! and then silence, no answer at all). Each comes in an async form, served by the
//! caller's runtime, and a sync form, served by a thread with its own runtime, for tests
//! that drive a child process and have no runtime of their own.

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// 127.0.0.1 with port 0: the operating system picks a free port, so tests run in
/// parallel without colliding.
pub fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A loopback address nothing listens on: the port was free a moment ago and its listener
/// is closed, so a connection is refused at once instead of timing out.
pub fn refused_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind(loopback()).expect("bind loopback");
    listener.local_addr().expect("local addr")
}

/// A server running in the test's runtime. Dropping it stops accepting connections, so a
/// test that starts several servers does not keep the earlier ones listening.
pub struct Served {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub base_url: String,
    task: JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn bind_loopback() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind(loopback()).await.expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    (listener, addr)
}

fn served(addr: SocketAddr, task: JoinHandle<()>) -> Served {
    Served {
        addr,
        base_url: format!("http://{addr}"),
        task,
    }
}

/// Serves `app` on a free loopback port until the [`Served`] is dropped. The peer address
/// is passed to handlers (`ConnectInfo`), which the reference's per-peer rate limit needs.
pub async fn serve(app: Router) -> Served {
    let (listener, addr) = bind_loopback().await;
    let task = tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    served(addr, task)
}

/// Serves `app` on a free loopback port from a thread with its own runtime, for sync
/// tests, until the process ends. Returns the base URL, `http://127.0.0.1:PORT`.
pub fn serve_on_thread(app: Router) -> String {
    let listener = std::net::TcpListener::bind(loopback()).expect("bind loopback");
    let url = format!("http://{}", listener.local_addr().expect("local addr"));
    on_thread(listener, move |listener| async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    url
}

/// A raw TCP target on a free loopback port: `handler` gets every accepted connection, in
/// a task of its own, and writes whatever bytes the test needs (or nothing). Accepting
/// stops when the [`Served`] is dropped; connections already handed over run on.
pub async fn raw_target<H, F>(handler: H) -> Served
where
    H: Fn(TcpStream) -> F + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let (listener, addr) = bind_loopback().await;
    let task = tokio::spawn(accept_loop(listener, handler));
    served(addr, task)
}

/// [`raw_target`] for sync tests, on `bind` (another loopback address than 127.0.0.1 makes
/// a host no profile allows), served by a thread with its own runtime until the process
/// ends. Returns the bound address.
pub fn raw_target_on_thread<H, F>(bind: SocketAddr, handler: H) -> SocketAddr
where
    H: Fn(TcpStream) -> F + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let listener = std::net::TcpListener::bind(bind).unwrap_or_else(|e| panic!("bind {bind}: {e}"));
    let addr = listener.local_addr().expect("local addr");
    on_thread(listener, move |listener| accept_loop(listener, handler));
    addr
}

/// Reads what the client sent first (up to 64 KiB, one read), so that a raw target answers
/// after the request instead of racing it.
pub async fn read_request(stream: &mut TcpStream) {
    let mut buf = vec![0u8; 65536];
    let _ = stream.read(&mut buf).await;
}

async fn accept_loop<H, F>(listener: TcpListener, handler: H)
where
    H: Fn(TcpStream) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(handler(stream));
    }
}

/// Runs `serve` on `listener` in a new thread with a runtime of its own.
fn on_thread<S, F>(listener: std::net::TcpListener, serve: S)
where
    S: FnOnce(TcpListener) -> F + Send + 'static,
    F: Future<Output = ()>,
{
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        rt.block_on(async move {
            let listener = TcpListener::from_std(listener).expect("tokio listener");
            serve(listener).await;
        });
    });
}
