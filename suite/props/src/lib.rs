//! Property-based and model-based testing of any target the harness can reach.
//!
//! Scenario cases check what someone thought of; properties generate requests and
//! sequences nobody wrote down, judge every response against a rule named after the
//! clause it enforces, shrink any failure to a minimal scenario and write it as a case
//! file (under `reports/properties/`) that the harness runs like any other case.
//!
//! Entry points: [`run_properties`] (the CLI's `qoauth run --properties`) and
//! [`run_properties_with`] for every option. Both block; they run on a thread and runtime
//! of their own, so they can be called from synchronous code or from inside a runtime.

mod casefile;
mod catalogue;
mod differential;
mod exec;
mod flows;
mod gen;
mod model;
mod rules;
mod runner;
mod scenario;
mod transcript;

pub use runner::{default_out_dir, regressions_dir, Found, Options};

use anyhow::{anyhow, Context, Result};
use qoauth_harness::profile::Profile;
use qoauth_harness::result::RunResult;
use std::time::Instant;

/// Every property's name, in report order (the case ids are `property.<name>`).
pub fn property_names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = catalogue::all().iter().map(|p| p.name).collect();
    v.push("differential_reference_agreement");
    v
}

/// Runs every property `cases` times against the profile's target (the embedded
/// reference when `profile` is `None`), within `budget` requests (and the profile's own
/// budget and rate limit). `seed` replays a run; failures are written as case files
/// under `reports/properties/`.
pub fn run_properties(
    profile: Option<Profile>,
    cases: u32,
    seed: Option<u64>,
    budget: Option<u64>,
) -> Result<RunResult> {
    let opts = Options {
        cases,
        seed,
        budget,
        ..Options::default()
    };
    run_properties_with(profile, &opts).map(|(r, _)| r)
}

/// [`run_properties`] with every option; also returns where each failure's case file
/// went.
pub fn run_properties_with(
    profile: Option<Profile>,
    opts: &Options,
) -> Result<(RunResult, Vec<Found>)> {
    let opts = opts.clone();
    std::thread::Builder::new()
        .name("qoauth-props".into())
        .spawn(move || run_blocking(profile, &opts))
        .context("cannot start the property run's thread")?
        .join()
        .map_err(|_| anyhow!("the property run ended abnormally"))?
}

fn run_blocking(profile: Option<Profile>, opts: &Options) -> Result<(RunResult, Vec<Found>)> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("qoauth-props-io")
        .build()
        .context("cannot start the property run's runtime")?;
    let started_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let t0 = Instant::now();
    let (mut profile, embedded) = match profile {
        Some(p) => (p, None),
        None => {
            let e = rt
                .block_on(qoauth_harness::embedded::start())
                .context("cannot start the embedded reference server")?;
            (e.profile.clone(), Some(e))
        }
    };
    profile.request_budget = match (profile.request_budget, opts.budget) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let _guard = rt.enter();
    let target = exec::Target::new(profile)?;
    let reference_server = if opts.differential {
        Some(
            rt.block_on(qoauth_harness::embedded::start())
                .context("cannot start the reference server for differential mode")?,
        )
    } else {
        None
    };
    let reference = match &reference_server {
        Some(s) => Some(exec::Target::new(s.profile.clone())?),
        None => None,
    };
    let seed = runner::pick_seed(opts.seed);
    let (cases, found) =
        runner::run_all(rt.handle().clone(), &target, reference.as_ref(), opts, seed);
    if embedded.is_none() && opts.revoke_issued {
        // Leave a real tenant as it was: revoke what the run was issued.
        rt.block_on(target.engine.revoke_minted());
    }
    let result = runner::result(&target, cases, t0, started_at);
    drop(reference);
    drop(target);
    if let Some(s) = embedded {
        rt.block_on(s.shutdown());
    }
    if let Some(s) = reference_server {
        rt.block_on(s.shutdown());
    }
    Ok((result, found))
}
