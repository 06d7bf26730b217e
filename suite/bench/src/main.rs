//! Server benchmark: client_credentials tokens per second and latency percentiles of the
//! reference server, measured in the same run as a minimal hyper server that answers a fixed
//! token-sized JSON body. The minimal server is this machine's ceiling, so the figure that
//! matters is the ratio between the two, not either absolute number.
//!
//! Each server runs in a child process pinned to one core; the load generator runs in this
//! process pinned to another, on a single-threaded runtime, so the two never compete for a
//! core. The children are this same binary, re-executed with a hidden subcommand.

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use clap::{Parser, Subcommand};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The body the ceiling server returns: the shape and size of a real client_credentials
/// response, so both servers write about the same number of bytes.
const CEILING_BODY: &str = r#"{"access_token":"q7Xc0m1sVb2JdL5nR8tY3wZ6aE9fH4kP0uG2iO7xC1v","token_type":"bearer","expires_in":21600,"expires_at":"2026-11-27T04:28:54.000Z","scope":"user_default"}"#;

const TOKEN_BODY: &str = r#"{"grant_type":"client_credentials","client_id":"web-confidential","client_secret":"wc-secret-2f8e6a1d9c4b7e30a5f1","scope":"user_default"}"#;

#[derive(Parser)]
#[command(about = "Benchmark the reference server against a minimal hyper server (the ceiling).")]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds of measured load per server and round (after one second of warm-up).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Alternating rounds (ceiling, then reference); the ratios reported are their medians.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Tokens to issue before reading the reference's resident memory; 0 skips that step.
    #[arg(long, default_value_t = 1_000_000)]
    tokens: u64,
    /// Core for the servers; the load generator takes `--client-core`.
    #[arg(long, default_value_t = 0)]
    server_core: usize,
    #[arg(long, default_value_t = 1)]
    client_core: usize,
}

#[derive(Subcommand)]
enum Cmd {
    #[command(hide = true)]
    ServeCeiling { core: usize },
    #[command(hide = true)]
    ServeReference { core: usize },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Cmd::ServeCeiling { core }) => child_runtime(core)?.block_on(serve_ceiling()),
        Some(Cmd::ServeReference { core }) => child_runtime(core)?.block_on(serve_reference()),
        None => run(&cli),
    }
}

/// One worker thread on one core: both servers get exactly the same runtime, so the ratio
/// compares the request handling and nothing else.
fn child_runtime(core: usize) -> Result<tokio::runtime::Runtime> {
    pin(core)?;
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?)
}

fn pin(core: usize) -> Result<()> {
    // Built by hand rather than looked up: the lookup lists only the cores this process may
    // already use, and a child inherits its parent's pinning.
    if !core_affinity::set_for_current(core_affinity::CoreId { id: core }) {
        bail!("cannot pin to core {core}");
    }
    Ok(())
}

async fn serve_ceiling() -> Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("http://{}", listener.local_addr()?);
    let body = Bytes::from_static(CEILING_BODY.as_bytes());
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let body = body.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let body = body.clone();
                async move {
                    // Read the request body, as the reference must, before answering.
                    let _ = req.into_body().collect().await;
                    Ok::<_, hyper::Error>(
                        Response::builder()
                            .header("content-type", "application/json")
                            .header("cache-control", "no-store")
                            .header("pragma", "no-cache")
                            .body(Full::new(body))
                            .expect("static response"),
                    )
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn serve_reference() -> Result<()> {
    // The default fixture's limits protect a shared test double; a benchmark that issues a
    // million tokens for one client must not be stopped by them.
    let mut fixture: serde_json::Value =
        serde_json::from_str(include_str!("../../reference/fixtures/default.json"))?;
    fixture["rate_limits"]["tier2"] = serde_json::json!(u32::MAX);
    fixture["rate_limits"]["tier1"] = serde_json::json!(u32::MAX);
    fixture["limits"]["max_tokens_per_user_client"] = serde_json::json!(u32::MAX);
    let fixture = qoauth_reference::Fixture::from_json(&fixture.to_string())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let server = qoauth_reference::spawn(fixture, "127.0.0.1:0".parse()?).await?;
    println!("{}", server.base_url);
    std::future::pending::<()>().await;
    Ok(())
}

struct ChildServer {
    child: Child,
    addr: SocketAddr,
}

impl ChildServer {
    fn start(subcommand: &str, core: usize) -> Result<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .args([subcommand, &core.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("no stdout")?).read_line(&mut line)?;
        let addr = line
            .trim()
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .with_context(|| format!("{subcommand} printed {line:?}, not its address"))?;
        Ok(Self { child, addr })
    }

    /// User plus system CPU time the server has used so far, in clock ticks. Divided by the
    /// requests of a round it gives the cost of one request, a figure that a busy machine
    /// disturbs far less than requests per second.
    fn cpu_ticks(&self) -> Result<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // Fields after the parenthesised command name, which may itself hold spaces.
        let rest = stat.rsplit_once(')').context("malformed /proc stat")?.1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        let field = |i: usize| -> Result<u64> {
            f.get(i)
                .and_then(|v| v.parse().ok())
                .context("malformed /proc stat")
        };
        // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after ')'.
        Ok(field(11)? + field(12)?)
    }

    fn rss_kib(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .context("no VmRSS in /proc status")
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Figures {
    requests: u64,
    errors: u64,
    per_second: f64,
    p50_us: u64,
    p99_us: u64,
    /// Server CPU time per request, microseconds; zero until `measured_load` fills it in.
    cpu_us_per_request: f64,
}

fn run(cli: &Cli) -> Result<()> {
    let ncores = std::thread::available_parallelism().map_or(0, |n| n.get());
    if ncores < 2 {
        eprintln!("warning: {ncores} core(s) visible; server and load will share a core");
    }
    pin(cli.client_core)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;

    // Both servers stay up for the whole run and are measured in alternating rounds: a
    // shared or throttled machine drifts over a run, and alternating puts the same drift on
    // both sides of each round's ratio instead of all of it on one server.
    let ceiling = ChildServer::start("serve-ceiling", cli.server_core)?;
    let reference = ChildServer::start("serve-reference", cli.server_core)?;
    std::thread::sleep(Duration::from_millis(200));
    let idle_kib = reference.rss_kib()?;
    let mut rounds = Vec::with_capacity(cli.rounds);
    for _ in 0..cli.rounds.max(1) {
        let c = measured_load(&rt, &ceiling, cli)?;
        let r = measured_load(&rt, &reference, cli)?;
        rounds.push((c, r));
    }
    drop(ceiling);
    let measured: u64 = rounds.iter().map(|(_, r)| r.requests).sum();
    let after = if cli.tokens > 0 {
        let issued = rt.block_on(load(
            reference.addr,
            cli.connections,
            u64::MAX,
            Some(cli.tokens),
        ))?;
        Some((issued.requests + measured, reference.rss_kib()?))
    } else {
        None
    };

    println!(
        "client_credentials at {} connections, {} round(s) of {} s per server, server on core {}, load on core {}",
        cli.connections,
        rounds.len(),
        cli.seconds,
        cli.server_core,
        cli.client_core
    );
    println!(
        "{:<6} {:<12} {:>12} {:>10} {:>10} {:>10} {:>8} {:>14}",
        "round",
        "server",
        "requests/s",
        "p50 (us)",
        "p99 (us)",
        "requests",
        "errors",
        "cpu/req (us)"
    );
    for (i, (c, r)) in rounds.iter().enumerate() {
        for (name, f) in [("ceiling", c), ("reference", r)] {
            println!(
                "{:<6} {:<12} {:>12.0} {:>10} {:>10} {:>10} {:>8} {:>14.1}",
                i + 1,
                name,
                f.per_second,
                f.p50_us,
                f.p99_us,
                f.requests,
                f.errors,
                f.cpu_us_per_request
            );
        }
    }
    let throughput = median(rounds.iter().map(|(c, r)| r.per_second / c.per_second));
    let p99 = median(
        rounds
            .iter()
            .map(|(c, r)| r.p99_us as f64 / c.p99_us.max(1) as f64),
    );
    let cpu = median(
        rounds
            .iter()
            .map(|(c, r)| r.cpu_us_per_request / c.cpu_us_per_request.max(f64::MIN_POSITIVE)),
    );
    println!("server CPU per request (median of rounds): reference {cpu:.2}x the ceiling's");
    println!(
        "ratio (median of rounds): throughput {throughput:.2} of the ceiling (goal >= 0.60), p99 {p99:.2}x the ceiling's (goal <= 2.00)"
    );
    println!(
        "reference resident memory idle: {:.1} MiB (goal < 20 MiB)",
        idle_kib as f64 / 1024.0
    );
    if let Some((issued, kib)) = after {
        println!(
            "reference resident memory after {issued} issued tokens: {:.1} MiB",
            kib as f64 / 1024.0
        );
    }
    if rounds.iter().any(|(c, r)| r.errors > 0 || c.errors > 0) {
        bail!("some requests failed; the figures above are not trustworthy");
    }
    Ok(())
}

/// One timed load against a server, with the server's CPU time per request attached. The
/// ticks include the warm-up second, whose requests are not counted, so the figure errs high
/// by the same share for both servers.
fn measured_load(rt: &tokio::runtime::Runtime, server: &ChildServer, cli: &Cli) -> Result<Figures> {
    let before = server.cpu_ticks()?;
    let mut f = rt.block_on(load(server.addr, cli.connections, cli.seconds, None))?;
    let ticks = server.cpu_ticks()? - before;
    let tick_us = 1e6 / clock_ticks_per_second() as f64;
    let total = f.requests as f64 * (1.0 + 1.0 / cli.seconds as f64);
    f.cpu_us_per_request = ticks as f64 * tick_us / total.max(1.0);
    Ok(f)
}

fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions; it returns -1 for an unknown name.
    let v = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if v > 0 {
        v as u64
    } else {
        100
    }
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Drives `connections` keep-alive HTTP/1.1 connections until `seconds` pass or `total`
/// requests complete, whichever comes first. The first second is warm-up and not counted
/// when running by time.
async fn load(
    addr: SocketAddr,
    connections: usize,
    seconds: u64,
    total: Option<u64>,
) -> Result<Figures> {
    let by_time = total.is_none();
    let warmup = if by_time {
        Duration::from_secs(1)
    } else {
        Duration::ZERO
    };
    let start = Instant::now();
    let measure_from = start + warmup;
    let deadline = measure_from + Duration::from_secs(seconds.min(86_400));
    let per_conn = total.map(|t| t.div_ceil(connections as u64));
    let local = tokio::task::LocalSet::new();
    let results = local
        .run_until(async move {
            let mut tasks = Vec::with_capacity(connections);
            for _ in 0..connections {
                tasks.push(tokio::task::spawn_local(connection(
                    addr,
                    measure_from,
                    deadline,
                    per_conn,
                )));
            }
            let mut out = Vec::with_capacity(connections);
            for t in tasks {
                out.push(t.await?);
            }
            anyhow::Ok(out)
        })
        .await?;
    let elapsed = Instant::now().saturating_duration_since(measure_from);
    let mut hist = Histogram::<u64>::new(3)?;
    let (mut requests, mut errors) = (0, 0);
    for r in results {
        let (h, n, e) = r?;
        hist.add(h)?;
        requests += n;
        errors += e;
    }
    Ok(Figures {
        requests,
        errors,
        per_second: requests as f64 / elapsed.as_secs_f64(),
        p50_us: hist.value_at_quantile(0.50),
        p99_us: hist.value_at_quantile(0.99),
        cpu_us_per_request: 0.0,
    })
}

async fn connection(
    addr: SocketAddr,
    measure_from: Instant,
    deadline: Instant,
    limit: Option<u64>,
) -> Result<(Histogram<u64>, u64, u64)> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream)).await?;
    tokio::task::spawn_local(conn);
    let mut hist = Histogram::<u64>::new(3)?;
    let (mut n, mut errors, mut sent) = (0u64, 0u64, 0u64);
    let body = Bytes::from_static(TOKEN_BODY.as_bytes());
    loop {
        let now = Instant::now();
        if now >= deadline || limit.is_some_and(|l| sent >= l) {
            break;
        }
        let req = Request::post("/oauth/token")
            .header("host", addr.to_string())
            .header("content-type", "application/json")
            .body(Full::new(body.clone()))?;
        sender.ready().await?;
        let res = sender.send_request(req).await?;
        let ok = res.status().is_success();
        res.into_body().collect().await?;
        sent += 1;
        if now >= measure_from {
            hist.record(now.elapsed().as_micros() as u64)?;
            n += 1;
            if !ok {
                errors += 1;
            }
        }
    }
    Ok((hist, n, errors))
}
