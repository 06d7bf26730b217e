//! wrk as a yardstick beside the bench's own generator. A generator that cannot keep the
//! minimal server busy reports a ceiling that is too low and so a ratio that is too kind;
//! wrk, run on the same core against the same servers with the same request, shows whether
//! that happens. It is optional: without it on PATH the bench still runs and says so.

use anyhow::{bail, Context, Result};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub struct Wrk {
    exe: PathBuf,
    script: PathBuf,
}

pub struct WrkFigures {
    pub per_second: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    /// Non-2xx responses plus socket errors of every kind.
    pub errors: u64,
    pub requests: u64,
}

impl Wrk {
    /// Finds `exe` (a path, or a name looked up on PATH) and writes the script that makes
    /// wrk send `body` as the bench does.
    pub fn find(exe: &str, body: &str, content_type: &str) -> Option<Result<Self>> {
        let exe = if exe.contains('/') {
            Some(PathBuf::from(exe)).filter(|p| p.is_file())
        } else {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(exe))
                    .find(|p| p.is_file())
            })
        }?;
        let script = std::env::temp_dir().join(format!("qoauth-bench-{}.lua", std::process::id()));
        let lua = format!(
            "wrk.method = \"POST\"\nwrk.body = {}\nwrk.headers[\"Content-Type\"] = {}\n",
            lua_string(body),
            lua_string(content_type)
        );
        Some(
            std::fs::write(&script, lua)
                .with_context(|| format!("cannot write {}", script.display()))
                .map(|()| Wrk { exe, script }),
        )
    }

    pub fn exe(&self) -> &Path {
        &self.exe
    }

    /// One thread, so wrk has exactly the core this process is pinned to, which the child
    /// inherits.
    pub fn run(
        &self,
        addr: SocketAddr,
        path: &str,
        connections: usize,
        seconds: Duration,
    ) -> Result<WrkFigures> {
        let out = Command::new(&self.exe)
            .arg("-t1")
            .arg(format!("-c{connections}"))
            .arg(format!("-d{}s", seconds.as_secs().max(1)))
            .arg("--latency")
            .arg("-s")
            .arg(&self.script)
            .arg(format!("http://{addr}{path}"))
            .output()
            .with_context(|| format!("cannot run {}", self.exe.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            bail!(
                "wrk failed ({}): {}{}",
                out.status,
                text,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        parse(&text).with_context(|| format!("cannot read wrk's output:\n{text}"))
    }
}

impl Drop for Wrk {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.script);
    }
}

fn lua_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn parse(text: &str) -> Result<WrkFigures> {
    let mut f = WrkFigures {
        per_second: f64::NAN,
        p50_us: 0,
        p99_us: 0,
        errors: 0,
        requests: 0,
    };
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            f.per_second = v.trim().parse()?;
        } else if let Some(v) = line.strip_prefix("50%") {
            f.p50_us = duration_us(v.trim())?;
        } else if let Some(v) = line.strip_prefix("99%") {
            f.p99_us = duration_us(v.trim())?;
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            f.errors += v.trim().parse::<u64>()?;
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            for part in v.split(',') {
                if let Some(n) = part.split_whitespace().nth(1) {
                    f.errors += n.parse::<u64>()?;
                }
            }
        } else if line.contains(" requests in ") {
            if let Some(n) = line.split_whitespace().next() {
                f.requests = n.parse()?;
            }
        }
    }
    if f.per_second.is_nan() || f.p99_us == 0 {
        bail!("no Requests/sec or latency distribution");
    }
    Ok(f)
}

/// wrk prints durations as a number and one of us, ms, s, m, h.
fn duration_us(v: &str) -> Result<u64> {
    let split = v
        .find(|c: char| c.is_ascii_alphabetic())
        .context("duration without unit")?;
    let (n, unit) = v.split_at(split);
    let n: f64 = n.parse()?;
    let scale = match unit {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        "h" => 3600e6,
        _ => bail!("unknown unit {unit:?}"),
    };
    Ok((n * scale).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk_output() {
        let out = "Running 5s test @ http://127.0.0.1:44979/oauth/token
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   458.12us  300.01us  12.03ms   91.00%
    Req/Sec   146.12k     3.01k  150.00k    80.00%
  Latency Distribution
     50%  377.00us
     75%  450.00us
     90%  600.00us
     99%    2.31ms
  727177 requests in 5.00s, 196.28MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec: 145435.54
Transfer/sec:     39.26MB
";
        let f = parse(out).unwrap();
        assert_eq!(f.per_second, 145435.54);
        assert_eq!((f.p50_us, f.p99_us), (377, 2310));
        assert_eq!(f.errors, 7);
        assert_eq!(f.requests, 727177);
    }
}
