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

use qoauth_harness::profile::Profile;
use qoauth_harness::result::RunResult;
use std::time::Instant;

/// Why a property run could not start or did not finish. Failing properties are not
/// errors: they are verdicts in the [`RunResult`].
#[derive(Debug, thiserror::Error)]
pub enum PropsError {
    #[error("cannot start the property run's thread")]
    Thread { source: std::io::Error },
    /// The run's thread panicked: a bug in the suite, never the target's doing.
    #[error("the property run ended abnormally")]
    Aborted,
    #[error("cannot start the property run's runtime")]
    Runtime { source: std::io::Error },
    #[error("cannot start the embedded reference server")]
    Embedded {
        source: qoauth_harness::EmbeddedError,
    },
    #[error("cannot start the reference server for differential mode")]
    DifferentialReference {
        source: qoauth_harness::EmbeddedError,
    },
    /// A profile lists the hosts it may be pointed at, so a run aimed elsewhere by
    /// mistake sends nothing.
    #[error("the profile refuses its target {url}")]
    Target {
        url: String,
        source: qoauth_harness::ProfileError,
    },
    /// The client carries the profile's TLS settings (its CA, whether certificates are
    /// verified); a profile whose settings do not make one cannot be run.
    #[error("cannot build the HTTP client from the profile")]
    Client { source: qoauth_harness::EngineError },
}

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
) -> Result<RunResult, PropsError> {
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
) -> Result<(RunResult, Vec<Found>), PropsError> {
    let opts = opts.clone();
    std::thread::Builder::new()
        .name("qoauth-props".into())
        .spawn(move || run_blocking(profile, &opts))
        .map_err(|source| PropsError::Thread { source })?
        .join()
        .map_err(|_| PropsError::Aborted)?
}

fn run_blocking(
    profile: Option<Profile>,
    opts: &Options,
) -> Result<(RunResult, Vec<Found>), PropsError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("qoauth-props-io")
        .build()
        .map_err(|source| PropsError::Runtime { source })?;
    let started_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let t0 = Instant::now();
    let (mut profile, embedded) = match profile {
        Some(p) => (p, None),
        None => {
            let e = rt
                .block_on(qoauth_harness::embedded::start())
                .map_err(|source| PropsError::Embedded { source })?;
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
                .map_err(|source| PropsError::DifferentialReference { source })?,
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
