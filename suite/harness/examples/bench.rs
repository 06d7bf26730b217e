//! Measures a full catalogue run against the embedded reference and prints the figures
//! (requests, wall time, requests per second, peak memory) and the verdict counts.
//!
//!     cargo run --release -p qoauth-harness --example bench -- [RUNS] [CONCURRENCY]

use qoauth_harness::result::Verdict;
use qoauth_harness::{embedded, run, Catalogue, RunOptions};
use std::collections::BTreeMap;

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
            let r = run(&catalogue.cases, &target.profile, &opts).await?;
            let mut counts: BTreeMap<Verdict, usize> = BTreeMap::new();
            for c in &r.cases {
                *counts.entry(c.verdict).or_default() += 1;
            }
            let s = &r.stats;
            println!(
                "run {i}: {} requests in {:.0} ms = {:.0} requests/s, peak RSS {:.1} MiB; {:?}",
                s.requests,
                s.wall_ms,
                s.requests_per_second,
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
