//! `qoauth detect`: the detection matrix as a command (built with `--features faults`).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use qoauth_harness::Catalogue;

#[derive(Debug, Clone, Args)]
pub struct DetectArgs {
    /// Write the generated report here (the committed one is reports/detection.md).
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,

    /// Only these faults (repeatable); all of them by default.
    #[arg(long = "fault", value_name = "NAME")]
    pub faults: Vec<String>,

    /// Faulty servers run at once.
    #[arg(long, default_value_t = 4)]
    pub parallel: usize,
}

/// Runs the matrix, prints a summary to stderr; true when every fault was caught and the
/// clean reference passed everything.
pub async fn detect(args: DetectArgs) -> anyhow::Result<bool> {
    let catalogue = Catalogue::load(&Catalogue::default_dir())
        .map_err(|e| anyhow::anyhow!("the case catalogue does not load:\n{e}"))?;
    let only = args
        .faults
        .iter()
        .map(|n| n.parse::<qoauth_reference::Fault>())
        .collect::<Result<Vec<_>, _>>()?;
    let opts = qoauth_detect::MatrixOptions {
        parallel_faults: args.parallel,
        only,
        ..Default::default()
    };
    let t0 = Instant::now();
    let matrix = qoauth_detect::run(&catalogue, &opts).await?;
    let report = qoauth_detect::render(&matrix);
    if let Some(path) = &args.write {
        std::fs::write(path, &report)
            .with_context(|| format!("cannot write {}", path.display()))?;
    } else {
        print!("{report}");
    }
    let missed: Vec<&str> = matrix.missed().iter().map(|f| f.name()).collect();
    eprintln!(
        "detect: {} faults, {} caught, {} false positives, {:.1} s",
        matrix.rows.len(),
        matrix.caught(),
        matrix.false_positives.len(),
        t0.elapsed().as_secs_f64()
    );
    let mut slowest: Vec<_> = matrix.rows.iter().collect();
    slowest.sort_by_key(|r| std::cmp::Reverse(r.elapsed));
    for r in slowest.iter().take(5) {
        eprintln!(
            "  slowest: {} {:.1} s",
            r.fault.name(),
            r.elapsed.as_secs_f64()
        );
    }
    for fp in &matrix.false_positives {
        eprintln!(
            "  false positive: {} {:?}: {}",
            fp.case_id, fp.verdict, fp.reason
        );
    }
    if !missed.is_empty() {
        eprintln!("  not caught: {}", missed.join(", "));
    }
    Ok(missed.is_empty() && matrix.false_positives.is_empty())
}
