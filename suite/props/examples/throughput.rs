//! Measures a property run against the embedded reference and prints its figures:
//! `cargo run --release -p qoauth-props --example throughput -- [CASES] [SEED]`.

use qoauth_harness::result::Verdict;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let cases: u32 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(200);
    let seed: Option<u64> = args.next().map(|a| a.parse()).transpose()?;
    let out = std::env::temp_dir().join("qoauth-props-throughput");
    let opts = qoauth_props::Options {
        cases,
        seed,
        out_dir: out,
        ..Default::default()
    };
    let (run, _) = qoauth_props::run_properties_with(None, &opts)?;
    println!(
        "{:<56} {:>7} {:>9} {:>9}  reason",
        "property", "verdict", "requests", "ms"
    );
    for c in &run.cases {
        println!(
            "{:<56} {:>7} {:>9} {:>9.0}  {}",
            c.id,
            format!("{:?}", c.verdict).to_lowercase(),
            c.requests,
            c.duration_ms,
            c.reason.as_deref().unwrap_or("")
        );
    }
    let failed = run
        .cases
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Fail | Verdict::Error))
        .count();
    println!(
        "cases per property: {cases}; requests: {}; wall: {:.2} s; throughput: {:.0} requests/s; peak RSS: {} MiB; failed or errored properties: {failed}",
        run.stats.requests,
        run.stats.wall_ms / 1000.0,
        run.stats.requests_per_second,
        run.stats.peak_rss_bytes.map_or("?".to_string(), |b| (b / (1 << 20)).to_string()),
    );
    Ok(())
}
