//! `qoauth detect`: the detection matrix as a command (built with `--features faults`).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use qoauth_harness::Catalogue;

/// What the detection and the latitude matrix take alike.
#[derive(Debug, Clone, Args)]
pub struct MatrixArgs {
    /// Write the generated report here (the committed one is under reports/).
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,

    /// Runs (one server's cases or its properties) at once.
    #[arg(long, default_value_t = 4)]
    pub parallel: usize,

    /// Generated cases per property in each property run; 0 leaves the properties out.
    /// The committed report uses the default.
    #[arg(long, value_name = "N", default_value_t = qoauth_detect::DEFAULT_PROPERTY_CASES)]
    pub property_cases: u32,

    /// The property runs' seed. The committed report uses the default.
    #[arg(long, value_name = "S", default_value_t = qoauth_detect::DEFAULT_PROPERTY_SEED)]
    pub seed: u64,
}

impl MatrixArgs {
    pub fn options(&self) -> qoauth_detect::MatrixOptions {
        qoauth_detect::MatrixOptions {
            parallel_faults: self.parallel,
            property_cases: self.property_cases,
            property_seed: self.seed,
            ..Default::default()
        }
    }

    /// Writes the report where `--write` says, or prints it.
    pub fn emit(&self, report: &str) -> anyhow::Result<()> {
        match &self.write {
            Some(path) => std::fs::write(path, report)
                .with_context(|| format!("cannot write {}", path.display())),
            None => {
                print!("{report}");
                Ok(())
            }
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct DetectArgs {
    #[command(flatten)]
    pub matrix: MatrixArgs,

    /// Only these faults (repeatable); all of them by default.
    #[arg(long = "fault", value_name = "NAME")]
    pub faults: Vec<String>,

    /// Also print, for every fault, why each catching property failed (the report lists
    /// only their names).
    #[arg(long)]
    pub reasons: bool,
}

/// Runs the matrix, prints its totals (as the report states them) to stderr; true when
/// every fault was caught and the clean reference passed every case and property.
pub async fn detect(args: DetectArgs) -> anyhow::Result<bool> {
    let catalogue = Catalogue::load(&Catalogue::default_dir())
        .map_err(|e| anyhow::anyhow!("the case catalogue does not load:\n{e}"))?;
    let only = args
        .faults
        .iter()
        .map(|n| n.parse::<qoauth_reference::Fault>())
        .collect::<Result<Vec<_>, _>>()?;
    let opts = qoauth_detect::MatrixOptions {
        only,
        ..args.matrix.options()
    };
    let t0 = Instant::now();
    let matrix = qoauth_detect::run(&catalogue, &opts).await?;
    args.matrix.emit(&qoauth_detect::render(&matrix))?;
    let missed: Vec<&str> = matrix.missed().iter().map(|f| f.name()).collect();
    let t = matrix.totals();
    eprintln!(
        "detect: {} faults, {} caught by cases, {} by properties, {} by either ({} only by properties, {} only by cases), {} on rule, {} only off rule, {} missed, {} false positives, {:.1} s",
        t.faults,
        t.by_cases,
        t.by_properties,
        t.by_either,
        t.properties_only,
        t.cases_only,
        t.on_rule,
        t.off_rule_only,
        t.missed,
        t.false_positives,
        t0.elapsed().as_secs_f64()
    );
    for (p, n) in matrix.per_property() {
        eprintln!("  property {}: {n} fault(s)", p.name);
    }
    if args.reasons {
        for r in &matrix.rows {
            for c in &r.caught_by_properties {
                eprintln!(
                    "  {} caught by {} ({:?}): {}",
                    r.fault.name(),
                    c.name,
                    c.verdict,
                    c.reason
                );
            }
        }
    }
    let mut slowest: Vec<(&str, &str, std::time::Duration)> = matrix
        .rows
        .iter()
        .flat_map(|r| {
            [
                (r.fault.name(), "cases", r.elapsed),
                (r.fault.name(), "properties", r.properties_elapsed),
            ]
        })
        .collect();
    slowest.sort_by_key(|(_, _, d)| std::cmp::Reverse(*d));
    for (fault, run, d) in slowest.iter().take(5) {
        eprintln!("  slowest: {fault} ({run}) {:.1} s", d.as_secs_f64());
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
