//! Measures a full catalogue run against the embedded reference and prints the figures
//! (requests, wall time, requests per second, peak memory) and the verdict counts.
//!
//!     cargo run --release -p qoauth-harness --example bench -- [RUNS] [CONCURRENCY]

use qoauth_harness::result::Verdict;
use qoauth_harness::{embedded, run, Catalogue, RunOptions};
use std::collections::BTreeMap;

/// CPU time of this process (user + system) in milliseconds: unlike wall time it does
/// not move when other work shares the machine.
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = after
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // Fields 14 and 15 of stat; after the command name they are the 12th and 13th.
    f.get(11)
        .zip(f.get(12))
        .map_or(0.0, |(u, s)| (u + s) * 10.0)
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let runs: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(3);
    let concurrency: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(RunOptions::default().concurrency);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let catalogue = Catalogue::load(&Catalogue::default_dir())?;
        let target = embedded::start().await?;
        println!(
            "{} cases, concurrency {concurrency}, {runs} run(s) against {}",
            catalogue.cases.len(),
            target.profile.base()
        );
        for i in 1..=runs {
            let opts = RunOptions {
                concurrency,
                ..RunOptions::default()
            };
            let cpu0 = cpu_ms();
            let r = run(&catalogue.cases, &target.profile, &opts).await?;
            let cpu = cpu_ms() - cpu0;
            let mut counts: BTreeMap<Verdict, usize> = BTreeMap::new();
            for c in &r.cases {
                *counts.entry(c.verdict).or_default() += 1;
            }
            let s = &r.stats;
            println!(
                "run {i}: {} requests in {:.0} ms = {:.0} requests/s ({:.0} ms CPU, harness and server), peak RSS {:.1} MiB; {:?}",
                s.requests,
                s.wall_ms,
                s.requests_per_second,
                cpu,
                s.peak_rss_bytes.unwrap_or(0) as f64 / (1024.0 * 1024.0),
                counts
            );
            for c in r
                .cases
                .iter()
                .filter(|c| matches!(c.verdict, Verdict::Fail | Verdict::Warn | Verdict::Error))
            {
                println!(
                    "  {:?} {}: {}",
                    c.verdict,
                    c.id,
                    c.reason.as_deref().unwrap_or("")
                );
            }
        }
        target.shutdown().await;
        anyhow::Ok(())
    })
}
