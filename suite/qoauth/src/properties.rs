//! `qoauth run --properties`: the property run at any scale, judged and reported like the
//! scenario cases.
//!
//! Properties run instead of the scenario cases, not after them: a large property run
//! takes far longer than the catalogue and has its own seed to replay, and keeping the two
//! apart keeps `--cases` unambiguous (a count here, a directory there) and each report
//! about one thing.

use crate::cli::RunArgs;
use anyhow::{anyhow, bail, Context};
use qoauth_harness::result::RunResult;
use std::path::PathBuf;

/// Cases per property when `--cases` is not given: enough to find the usual bugs in a
/// minute against the embedded reference.
const DEFAULT_CASES: u32 = 256;

/// Where the minimal failing scenarios go, next to the other reports.
const OUT_DIR: &str = "reports/properties";

fn cases_per_property(args: &RunArgs) -> anyhow::Result<u32> {
    let Some(value) = &args.cases else {
        return Ok(DEFAULT_CASES);
    };
    let text = value.to_string_lossy();
    match text.parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => bail!(
            "with --properties, --cases is the number of generated cases per property (a positive integer), not {text:?}"
        ),
    }
}

/// Runs every property (or those `--filter` names) and returns the result for the report
/// writers; an `Err` means the run could not happen (exit 2).
pub async fn run(args: &RunArgs) -> anyhow::Result<RunResult> {
    let cases = cases_per_property(args)?;
    let only: Vec<String> = args.filter.iter().cloned().collect();
    if let Some(pat) = &args.filter {
        if !qoauth_props::property_names()
            .iter()
            .any(|name| name.contains(pat.as_str()))
        {
            bail!(
                "no property matches {pat:?}; properties: {}",
                qoauth_props::property_names().join(", ")
            );
        }
    }
    // The embedded reference is started by the property run itself when no target is named.
    let profile = if args.target.is_some() || args.profile.is_some() {
        let profile = crate::run::profile_for(args.target.as_deref(), args.profile.as_deref())?;
        qoauth_harness::preflight(&profile).await?;
        Some(profile)
    } else {
        None
    };
    let seed = args.seed.unwrap_or_else(crate::cli::fresh_seed);
    let out_dir = PathBuf::from(OUT_DIR);
    println!("properties: {cases} case(s) each, seed {seed} (replay with --seed {seed})");
    let options = qoauth_props::Options {
        cases,
        seed: Some(seed),
        out_dir: out_dir.clone(),
        only,
        ..qoauth_props::Options::default()
    };
    let (result, found) =
        tokio::task::spawn_blocking(move || qoauth_props::run_properties_with(profile, &options))
            .await
            .map_err(|e| anyhow!("the property run ended abnormally: {e}"))?
            .context("cannot run the properties")?;
    // `found` has an entry per property; those with a case file are the failures.
    let written: Vec<_> = found
        .iter()
        .filter_map(|f| f.case_file.as_ref().map(|path| (&f.property, path)))
        .collect();
    if written.is_empty() {
        println!(
            "no failing case written (failures would go to {})",
            out_dir.display()
        );
    } else {
        println!(
            "{} minimal failing case(s) written; review them, then move them into cases/ to keep them:",
            written.len()
        );
        for (property, path) in written {
            println!("  property.{property}: {}", path.display());
        }
    }
    Ok(result)
}
