//! Server benchmark: client_credentials tokens per second and latency percentiles of the
//! reference server, measured in the same run as a minimal hyper server that answers a fixed
//! token-sized JSON body. The minimal server is this machine's ceiling, so the figure that
//! matters is the ratio between the two, not either absolute number.
//!
//! A ratio is only honest if the load saturates the ceiling: a generator that runs out of
//! CPU first caps both servers at its own speed and flatters the slower one. So the load
//! comes from a lean epoll generator (`generator`), and when wrk is on PATH the same servers
//! are also measured with wrk under the same pinning and shown beside it, which tells
//! whether the generator's ceiling is the machine's.
//!
//! Each server runs in a child process pinned to one core; the load generator runs in this
//! process pinned to another, so the two never compete for a core. The children are this
//! same binary, re-executed with a hidden subcommand.

mod generator;
mod wrk;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use clap::{Parser, Subcommand};
use generator::{Figures, Generator, Stop};
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};
use wrk::Wrk;

/// The body the ceiling server returns: the shape and size of a real client_credentials
/// response, so both servers write about the same number of bytes.
const CEILING_BODY: &str = r#"{"access_token":"q7Xc0m1sVb2JdL5nR8tY3wZ6aE9fH4kP0uG2iO7xC1v","token_type":"bearer","expires_in":21600,"expires_at":"2026-11-27T04:28:54.000Z","scope":"user_default"}"#;

const TOKEN_PATH: &str = "/oauth/token";
const TOKEN_CONTENT_TYPE: &str = "application/json";
const TOKEN_BODY: &str = r#"{"grant_type":"client_credentials","client_id":"web-confidential","client_secret":"wc-secret-2f8e6a1d9c4b7e30a5f1","scope":"user_default"}"#;

/// Tokens issued before the memory baseline is read, so that connection buffers, lazily
/// built tables and the allocator's first arenas are not counted as the cost of tokens.
const MEMORY_WARMUP_TOKENS: u64 = 10_000;

#[derive(Parser)]
#[command(about = "Benchmark the reference server against a minimal hyper server (the ceiling).")]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds of measured load per server, generator and round, each after one second of
    /// warm-up.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Alternating rounds (ceiling, then reference); the figures reported are their medians.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Live tokens to issue to a fresh reference before reading its resident memory again;
    /// 0 skips that step.
    #[arg(long, default_value_t = 1_000_000)]
    tokens: u64,
    /// Core for the servers; the load generator (and wrk) takes `--client-core`.
    #[arg(long, default_value_t = 0)]
    server_core: usize,
    #[arg(long, default_value_t = 1)]
    client_core: usize,
    /// How the servers run: `current` (one thread) or `multi` (a multi-thread runtime with
    /// `--server-threads` workers). Both servers always get the same.
    #[arg(long, value_enum, default_value_t = Flavor::Multi)]
    server_runtime: Flavor,
    #[arg(long, default_value_t = 1)]
    server_threads: usize,
    /// The wrk to measure beside the bench's own generator: a name looked up on PATH, or a
    /// path.
    #[arg(long, default_value = "wrk")]
    wrk: String,
    /// Skip wrk even when it is installed.
    #[arg(long)]
    no_wrk: bool,
    /// Run one part only: one server's throughput and latency, or the memory figure.
    #[arg(long, value_enum)]
    only: Option<Only>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Flavor {
    Current,
    Multi,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Only {
    Ceiling,
    Reference,
    Memory,
}

#[derive(Subcommand)]
enum Cmd {
    #[command(hide = true)]
    ServeCeiling {
        core: usize,
        #[arg(value_enum)]
        flavor: Flavor,
        threads: usize,
    },
    #[command(hide = true)]
    ServeReference {
        core: usize,
        #[arg(value_enum)]
        flavor: Flavor,
        threads: usize,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Cmd::ServeCeiling {
            core,
            flavor,
            threads,
        }) => {
            watch_parent(None);
            child_runtime(core, flavor, threads)?.block_on(serve_ceiling())
        }
        Some(Cmd::ServeReference {
            core,
            flavor,
            threads,
        }) => child_runtime(core, flavor, threads)?.block_on(serve_reference()),
        None => run(&cli),
    }
}

/// Both servers get exactly the same runtime, so the ratio compares the request handling
/// and nothing else.
fn child_runtime(core: usize, flavor: Flavor, threads: usize) -> Result<tokio::runtime::Runtime> {
    pin(core)?;
    Ok(match flavor {
        Flavor::Current => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        Flavor::Multi => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .enable_all()
            .build()?,
    })
}

fn pin(core: usize) -> Result<()> {
    // Built by hand rather than looked up: the lookup lists only the cores this process may
    // already use, and a child inherits its parent's pinning.
    if !core_affinity::set_for_current(core_affinity::CoreId { id: core }) {
        bail!("cannot pin to core {core}");
    }
    Ok(())
}

/// Serves the parent's questions on stdin and exits when stdin closes, so a server never
/// outlives a bench that was killed before it could kill the server.
fn watch_parent(app: Option<qoauth_reference::AppHandle>) {
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if line.trim() == "stats" {
                let live = app.as_ref().map_or(0, |a| a.stats().access_tokens);
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{live}");
                let _ = out.flush();
            }
        }
        std::process::exit(0);
    });
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
    watch_parent(Some(server.app().clone()));
    std::future::pending::<()>().await;
    Ok(())
}

struct ChildServer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    addr: SocketAddr,
}

impl ChildServer {
    fn start(subcommand: &str, cli: &Cli) -> Result<Self> {
        let flavor = match cli.server_runtime {
            Flavor::Current => "current",
            Flavor::Multi => "multi",
        };
        let mut child = Command::new(std::env::current_exe()?)
            .args([
                subcommand,
                &cli.server_core.to_string(),
                flavor,
                &cli.server_threads.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take().context("no stdin")?;
        let mut stdout = BufReader::new(child.stdout.take().context("no stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let addr = line
            .trim()
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .with_context(|| format!("{subcommand} printed {line:?}, not its address"))?;
        Ok(Self {
            child,
            stdin,
            stdout,
            addr,
        })
    }

    /// Access tokens the server holds now.
    fn live_tokens(&mut self) -> Result<u64> {
        writeln!(self.stdin, "stats")?;
        self.stdin.flush()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        line.trim()
            .parse()
            .with_context(|| format!("the server answered {line:?} to stats"))
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

/// One measured load: what the generator saw, and what it cost the server.
struct Row {
    per_second: f64,
    p50_us: u64,
    p99_us: u64,
    requests: u64,
    errors: u64,
    /// Server CPU time per request, microseconds.
    cpu_us_per_request: f64,
    /// Share of the measured window the server spent on a CPU: near 1 means the server's
    /// core was the limit; well below 1 means the generator was, or that another process
    /// took part of the server's core.
    server_busy: f64,
    /// The same share for the load generator, which should have some left over.
    load_busy: f64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Load {
    Own,
    Wrk,
}

impl Load {
    fn name(self) -> &'static str {
        match self {
            Load::Own => "bench",
            Load::Wrk => "wrk",
        }
    }
}

fn request_bytes(addr: SocketAddr) -> Vec<u8> {
    format!(
        "POST {TOKEN_PATH} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {TOKEN_CONTENT_TYPE}\r\nContent-Length: {}\r\n\r\n{TOKEN_BODY}",
        TOKEN_BODY.len()
    )
    .into_bytes()
}

fn run(cli: &Cli) -> Result<()> {
    let ncores = std::thread::available_parallelism().map_or(0, |n| n.get());
    if ncores < 2 || cli.server_core == cli.client_core {
        eprintln!(
            "warning: {ncores} core(s) visible, server on core {} and load on core {}; server and load will share a core",
            cli.server_core, cli.client_core
        );
    }
    pin(cli.client_core)?;
    let wrk = if cli.no_wrk {
        None
    } else {
        Wrk::find(&cli.wrk, TOKEN_BODY, TOKEN_CONTENT_TYPE).transpose()?
    };
    let mut failed = false;
    if cli.only != Some(Only::Memory) {
        failed |= throughput(cli, wrk.as_ref())?;
    }
    if cli.tokens > 0 && cli.only.is_none_or(|o| o == Only::Memory) {
        memory(cli)?;
    }
    if failed {
        bail!("some requests failed; the figures above are not trustworthy");
    }
    Ok(())
}

/// Measures the servers in alternating rounds and prints every round, then the medians.
/// Returns whether any request failed.
fn throughput(cli: &Cli, wrk: Option<&Wrk>) -> Result<bool> {
    let kinds: &[(&str, &str)] = match cli.only {
        Some(Only::Ceiling) => &[("ceiling", "serve-ceiling")],
        Some(Only::Reference) => &[("reference", "serve-reference")],
        _ => &[
            ("ceiling", "serve-ceiling"),
            ("reference", "serve-reference"),
        ],
    };
    let loads: &[Load] = if wrk.is_some() {
        &[Load::Own, Load::Wrk]
    } else {
        &[Load::Own]
    };
    println!(
        "client_credentials (POST {TOKEN_PATH}) at {} connections, {} round(s) of {} s per server and generator, server on core {} ({}), load on core {}",
        cli.connections,
        cli.rounds.max(1),
        cli.seconds,
        cli.server_core,
        match cli.server_runtime {
            Flavor::Current => "current-thread runtime".to_string(),
            Flavor::Multi => format!("multi-thread runtime, {} worker(s)", cli.server_threads),
        },
        cli.client_core
    );
    match wrk {
        Some(w) => println!(
            "wrk: {} beside the bench's own generator",
            w.exe().display()
        ),
        None if cli.no_wrk => println!("wrk: skipped (--no-wrk)"),
        None => println!(
            "wrk: {:?} not found, so no side-by-side figure (on Debian: apt-get install wrk)",
            cli.wrk
        ),
    }
    println!(
        "{:<6} {:<10} {:<6} {:>11} {:>9} {:>9} {:>9} {:>7} {:>13} {:>12} {:>10}",
        "round",
        "server",
        "load",
        "requests/s",
        "p50 (us)",
        "p99 (us)",
        "requests",
        "errors",
        "cpu/req (us)",
        "server busy",
        "load busy"
    );
    // rows[round][server][load]
    let mut rows: Vec<Vec<Vec<Row>>> = Vec::new();
    // The servers are measured in alternating rounds: a shared or throttled machine drifts
    // over a run, and alternating puts the same drift on both sides of each round's ratio
    // instead of all of it on one server. Every measurement gets a fresh server: the
    // reference keeps each token it issues for hours, and a server carried over would hold
    // more of them for each later measurement, which would make the ratio depend on the
    // order of the measurements (the cost of a large live set is measured on its own, after
    // the memory figure).
    for round in 0..cli.rounds.max(1) {
        let mut per_server = Vec::new();
        for (s, (_, subcommand)) in kinds.iter().enumerate() {
            let mut per_load = Vec::new();
            for &load in loads {
                let server = ChildServer::start(subcommand, cli)?;
                let row = match load {
                    Load::Own => measure_own(&server, cli)?,
                    Load::Wrk => measure_wrk(&server, cli, wrk.context("no wrk")?)?,
                };
                drop(server);
                println!(
                    "{:<6} {:<10} {:<6} {:>11.0} {:>9} {:>9} {:>9} {:>7} {:>13.2} {:>11.0}% {:>9.0}%",
                    round + 1,
                    kinds[s].0,
                    load.name(),
                    row.per_second,
                    row.p50_us,
                    row.p99_us,
                    row.requests,
                    row.errors,
                    row.cpu_us_per_request,
                    row.server_busy * 100.0,
                    row.load_busy * 100.0
                );
                per_load.push(row);
            }
            per_server.push(per_load);
        }
        rows.push(per_server);
    }

    println!();
    println!("medians of {} round(s):", rows.len());
    println!(
        "{:<10} {:<6} {:>11} {:>9} {:>9} {:>13} {:>12} {:>10}",
        "server",
        "load",
        "requests/s",
        "p50 (us)",
        "p99 (us)",
        "cpu/req (us)",
        "server busy",
        "load busy"
    );
    for (s, (name, _)) in kinds.iter().enumerate() {
        for (l, load) in loads.iter().enumerate() {
            let m = |f: &dyn Fn(&Row) -> f64| median(rows.iter().map(|r| f(&r[s][l])));
            println!(
                "{:<10} {:<6} {:>11.0} {:>9.0} {:>9.0} {:>13.2} {:>11.0}% {:>9.0}%",
                name,
                load.name(),
                m(&|r| r.per_second),
                m(&|r| r.p50_us as f64),
                m(&|r| r.p99_us as f64),
                m(&|r| r.cpu_us_per_request),
                m(&|r| r.server_busy) * 100.0,
                m(&|r| r.load_busy) * 100.0
            );
        }
    }
    if kinds.len() == 2 {
        for (l, load) in loads.iter().enumerate() {
            let throughput = median(rows.iter().map(|r| r[1][l].per_second / r[0][l].per_second));
            let p99 = median(
                rows.iter()
                    .map(|r| r[1][l].p99_us as f64 / r[0][l].p99_us.max(1) as f64),
            );
            let cpu = median(rows.iter().map(|r| {
                r[1][l].cpu_us_per_request / r[0][l].cpu_us_per_request.max(f64::MIN_POSITIVE)
            }));
            println!(
                "ratio under {:<5}: throughput {throughput:.2} of the ceiling (goal >= 0.60), p99 {p99:.2}x the ceiling's (goal <= 2.00), server CPU per request {cpu:.2}x",
                load.name()
            );
        }
    }
    if loads.len() == 2 && kinds[0].0 == "ceiling" {
        let own_vs_wrk = median(rows.iter().map(|r| r[0][0].per_second / r[0][1].per_second));
        println!(
            "the bench's generator reaches {own_vs_wrk:.2} of wrk's figure for the {} (goal >= 0.90)",
            kinds[0].0
        );
    }
    let idle = rows
        .iter()
        .flatten()
        .flatten()
        .filter(|r| r.server_busy < 0.9)
        .count();
    if idle > 0 {
        println!(
            "note: in {idle} measurement(s) the server was on its core less than 90% of the time, so its load did not saturate it or another process took part of the core; those figures understate the server"
        );
    }
    Ok(rows.iter().flatten().flatten().any(|r| r.errors > 0))
}

/// One second of warm-up on the same connections, then the measured window, with the
/// server's CPU time read at the window's two ends.
fn measure_own(server: &ChildServer, cli: &Cli) -> Result<Row> {
    let mut g = Generator::connect(server.addr, cli.connections, request_bytes(server.addr))?;
    g.run(Stop::After(Duration::from_secs(1)))?;
    let before = server.cpu_ticks()?;
    let load_before = cpu_time(libc::RUSAGE_THREAD)?;
    let f = g.run(Stop::After(Duration::from_secs(cli.seconds.max(1))))?;
    let load = cpu_time(libc::RUSAGE_THREAD)? - load_before;
    let ticks = server.cpu_ticks()? - before;
    Ok(row(&f, ticks, load.as_secs_f64() / f.elapsed.as_secs_f64()))
}

fn row(f: &Figures, ticks: u64, load_busy: f64) -> Row {
    let cpu_us = ticks as f64 * 1e6 / clock_ticks_per_second() as f64;
    Row {
        load_busy,
        per_second: f.per_second,
        p50_us: f.p50_us,
        p99_us: f.p99_us,
        requests: f.requests,
        errors: f.errors,
        cpu_us_per_request: cpu_us / (f.requests as f64).max(1.0),
        server_busy: cpu_us / f.elapsed.as_micros().max(1) as f64,
    }
}

/// wrk has no warm-up of its own, so the bench's generator gives the server the same second
/// of warm-up it has before its own measurement. wrk's connection set-up falls inside the
/// server's CPU figure, a few milliseconds in seconds.
fn measure_wrk(server: &ChildServer, cli: &Cli, wrk: &Wrk) -> Result<Row> {
    let seconds = Duration::from_secs(cli.seconds.max(1));
    Generator::connect(server.addr, cli.connections, request_bytes(server.addr))?
        .run(Stop::After(Duration::from_secs(1)))?;
    let before = server.cpu_ticks()?;
    // wrk is the only child reaped in between, so the children's CPU time grows by its own.
    let load_before = cpu_time(libc::RUSAGE_CHILDREN)?;
    let started = Instant::now();
    let w = wrk.run(server.addr, TOKEN_PATH, cli.connections, seconds)?;
    let wall = started.elapsed();
    let load = cpu_time(libc::RUSAGE_CHILDREN)? - load_before;
    let elapsed = wall.min(seconds);
    let ticks = server.cpu_ticks()? - before;
    Ok(row(
        &Figures {
            requests: w.requests,
            errors: w.errors,
            per_second: w.per_second,
            p50_us: w.p50_us,
            p99_us: w.p99_us,
            elapsed,
        },
        ticks,
        load.as_secs_f64() / wall.as_secs_f64(),
    ))
}

/// Resident memory of a fresh reference, idle and then holding `--tokens` more live
/// client_credentials tokens (they live for hours, so none expires during the run); then
/// the same load as the throughput rounds against that server, since a large live set
/// costs time as well as memory.
fn memory(cli: &Cli) -> Result<()> {
    let mut server = ChildServer::start("serve-reference", cli)?;
    std::thread::sleep(Duration::from_millis(200));
    let idle_kib = server.rss_kib()?;
    let mut g = Generator::connect(server.addr, cli.connections, request_bytes(server.addr))?;
    let warm = g.run(Stop::Requests(MEMORY_WARMUP_TOKENS))?;
    let base_kib = server.rss_kib()?;
    let base_live = server.live_tokens()?;
    let issued = g.run(Stop::Requests(cli.tokens))?;
    let after_kib = server.rss_kib()?;
    let live = server.live_tokens()?;
    if warm.errors + issued.errors > 0 {
        bail!(
            "{} token requests failed; the memory figure would not be per token",
            warm.errors + issued.errors
        );
    }
    let added = live.saturating_sub(base_live);
    println!();
    println!(
        "reference resident memory idle: {:.1} MiB (goal < 20 MiB)",
        idle_kib as f64 / 1024.0
    );
    println!(
        "reference resident memory with {base_live} live tokens: {:.1} MiB; with {live}: {:.1} MiB",
        base_kib as f64 / 1024.0,
        after_kib as f64 / 1024.0
    );
    if added > 0 {
        let per_token = after_kib.saturating_sub(base_kib) as f64 * 1024.0 / added as f64;
        println!(
            "memory per 1M live tokens: {:.1} MiB ({per_token:.0} bytes per token, {added} tokens added at {:.0}/s)",
            per_token * 1e6 / (1024.0 * 1024.0),
            issued.per_second
        );
    }
    let held = measure_own(&server, cli)?;
    println!(
        "reference holding {live} live tokens, bench load for {} s: {:.0} requests/s, p50 {} us, p99 {} us, cpu/req {:.2} us, server busy {:.0}%",
        cli.seconds.max(1),
        held.per_second,
        held.p50_us,
        held.p99_us,
        held.cpu_us_per_request,
        held.server_busy * 100.0
    );
    if held.errors > 0 {
        bail!("{} requests failed under load", held.errors);
    }
    Ok(())
}

/// User plus system CPU time of this thread or of the reaped children.
fn cpu_time(who: libc::c_int) -> Result<Duration> {
    // SAFETY: getrusage fills the struct it is given; an all-zero rusage is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a live, writable rusage.
    if unsafe { libc::getrusage(who, &mut ru) } != 0 {
        return Err(std::io::Error::last_os_error()).context("getrusage");
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Ok(tv(ru.ru_utime) + tv(ru.ru_stime))
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
