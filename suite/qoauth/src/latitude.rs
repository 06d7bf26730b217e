//! `qoauth latitude`: the latitude matrix as a command (built with `--features faults`, as
//! its runner shares the detection matrix's crate).

use std::time::Instant;

use clap::Args;
use qoauth_harness::Catalogue;

#[derive(Debug, Clone, Args)]
pub struct LatitudeArgs {
    #[command(flatten)]
    pub matrix: crate::detect::MatrixArgs,

    /// Only these entries (repeatable); all of them by default.
    #[arg(long = "entry", value_name = "NAME")]
    pub entries: Vec<String>,
}

/// Runs the matrix and prints one line per entry to stderr; true when every entry passed.
pub async fn latitude(args: LatitudeArgs) -> anyhow::Result<bool> {
    let catalogue = Catalogue::load(&Catalogue::default_dir())
        .map_err(|e| anyhow::anyhow!("the case catalogue does not load:\n{e}"))?;
    let known: Vec<&str> = qoauth_detect::latitude::entries()
        .iter()
        .map(|e| e.name)
        .collect();
    if let Some(unknown) = args.entries.iter().find(|e| !known.contains(&e.as_str())) {
        anyhow::bail!("unknown entry {unknown:?}; known: {}", known.join(", "));
    }
    let opts = args.matrix.options();
    let t0 = Instant::now();
    let rows = qoauth_detect::latitude::run(&catalogue, &opts, &args.entries).await?;
    args.matrix
        .emit(&qoauth_detect::latitude::render(&rows, &opts))?;
    for r in &rows {
        eprintln!(
            "latitude: {:<36} {} ({} failed or erred, {} warned, {} declared)",
            r.name,
            if r.passed() { "pass" } else { "FAIL" },
            r.failures.len(),
            r.warned.len(),
            r.declared.len()
        );
        for (id, verdict, reason) in &r.failures {
            eprintln!("    {id} {verdict:?}: {reason}");
        }
        for w in r.warned.symmetric_difference(&r.declared) {
            let what = if r.warned.contains(w) {
                "warned, not declared"
            } else {
                "declared, not warned"
            };
            eprintln!("    {w}: {what}");
        }
    }
    let passed = rows.iter().filter(|r| r.passed()).count();
    eprintln!(
        "latitude: {passed} of {} entries pass, {:.1} s",
        rows.len(),
        t0.elapsed().as_secs_f64()
    );
    Ok(passed == rows.len())
}
