//! `qoauth run`: load everything, refuse early what cannot work (exit 2), run, report, gate.

use crate::cli::RunArgs;
use anyhow::{anyhow, bail, Context};
use qoauth_harness::embedded::Embedded;
use qoauth_harness::plan::PlannedCase;
use qoauth_harness::result::RunResult;
use qoauth_harness::{Catalogue, Profile, RunOptions};
use qoauth_report::{Baseline, Gate};
use std::fmt::Write as _;

/// How a run that got as far as a verdict ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    GateFailed,
}

/// The profile to use and, when nobody named a target, the embedded reference behind it.
struct Target {
    profile: Profile,
    embedded: Option<Embedded>,
}

fn load_catalogue(args: &RunArgs) -> anyhow::Result<Catalogue> {
    let dir = args.cases.clone().unwrap_or_else(Catalogue::default_dir);
    let all = Catalogue::load(&dir).map_err(|e| anyhow!("{}", e.to_string().trim_end()))?;
    let cases = match &args.filter {
        Some(pat) => all.filter(pat, args.exact),
        None => all,
    };
    if cases.cases.is_empty() {
        match &args.filter {
            Some(pat) => bail!("no case in {} matches {pat:?}", dir.display()),
            None => bail!("no case files found in {}", dir.display()),
        }
    }
    Ok(cases)
}

fn load_profile(args: &RunArgs) -> anyhow::Result<Profile> {
    profile_for(args.target.as_deref(), args.profile.as_deref())
}

/// The named profile (or the reference's) pointed at `target` when one is given.
pub(crate) fn profile_for(
    target: Option<&str>,
    profile: Option<&std::path::Path>,
) -> anyhow::Result<Profile> {
    let profile = match profile {
        Some(path) => {
            Profile::load(path).with_context(|| format!("cannot use profile {}", path.display()))?
        }
        None => qoauth_harness::profile::reference_profile()
            .context("cannot load the reference profile")?,
    };
    match target {
        Some(url) => profile
            .with_base_url(url)
            .with_context(|| format!("cannot use target {url}")),
        None => Ok(profile),
    }
}

async fn resolve_target(args: &RunArgs) -> anyhow::Result<Target> {
    if args.target.is_some() || args.profile.is_some() {
        return Ok(Target {
            profile: load_profile(args)?,
            embedded: None,
        });
    }
    let embedded = qoauth_harness::embedded::start()
        .await
        .context("cannot start the embedded reference server")?;
    Ok(Target {
        profile: embedded.profile.clone(),
        embedded: Some(embedded),
    })
}

pub fn dry_run_text(planned: &[PlannedCase], profile: &Profile) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "dry run: {} case(s) against {} (profile {}); nothing is sent\n",
        planned.len(),
        profile.base(),
        profile.name
    );
    let mut requests = 0u64;
    let mut logins = 0u64;
    for case in planned {
        if let Some(skip) = &case.skip {
            let _ = writeln!(out, "{}: skipped: {skip}\n", case.id);
            continue;
        }
        let _ = writeln!(out, "{}", case.id);
        for r in &case.requests {
            let times = match (r.times, r.concurrent) {
                (1, _) => String::new(),
                (n, true) => format!(" x{n} concurrently"),
                (n, false) => format!(" x{n}"),
            };
            let login = if r.login {
                " (then the target's login redirects)"
            } else {
                ""
            };
            let _ = writeln!(out, "  [{}] {} {}{times}{login}", r.step, r.method, r.url);
            for (k, v) in &r.headers {
                let _ = writeln!(out, "      {k}: {v}");
            }
            if let Some(body) = &r.body {
                let _ = writeln!(out, "      {body}");
            }
            if r.login {
                logins += 1;
            } else {
                requests += u64::from(r.times);
            }
        }
        if let Some(err) = &case.error {
            let _ = writeln!(out, "  cannot plan further: {err}");
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{requests} request(s) planned, plus {logins} login(s) whose redirects depend on the target, plus the revocation of every token issued"
    );
    // What this profile will not judge, grouped by why, so a new target's owner sees what
    // to add to the profile before anything is sent.
    let mut skips: std::collections::BTreeMap<&str, Vec<&str>> = std::collections::BTreeMap::new();
    for case in planned {
        if let Some(why) = &case.skip {
            skips
                .entry(why.as_str())
                .or_default()
                .push(case.id.as_str());
        }
    }
    if !skips.is_empty() {
        let total: usize = skips.values().map(Vec::len).sum();
        let _ = writeln!(out, "\n{total} case(s) will skip:");
        for (why, ids) in &skips {
            let _ = writeln!(out, "  {} case(s): {why}", ids.len());
            for id in ids {
                let _ = writeln!(out, "    {id}");
            }
        }
    }
    out
}

/// Runs `qoauth run`; an `Err` means the suite could not run (exit 2).
pub async fn run(args: RunArgs) -> anyhow::Result<Outcome> {
    let baseline = args.baseline.as_deref().map(Baseline::load).transpose()?;
    if args.properties {
        let run = crate::properties::run(&args).await?;
        return finish(&args, &run, baseline.as_ref());
    }
    let catalogue = load_catalogue(&args)?;

    if args.dry_run {
        let profile = load_profile(&args)?;
        profile.check_target()?;
        let planned = qoauth_harness::dry_run(&catalogue.cases, &profile);
        print!("{}", dry_run_text(&planned, &profile));
        return Ok(Outcome::Passed);
    }

    let target = resolve_target(&args).await?;
    let result = run_cases(&args, &catalogue, &target.profile).await;
    if let Some(server) = target.embedded {
        server.shutdown().await;
    }
    let run = result?;
    finish(&args, &run, baseline.as_ref())
}

/// Gates, writes every report and prints the summary: the same for scenario cases and
/// properties, so both are judged and read the same way.
fn finish(args: &RunArgs, run: &RunResult, baseline: Option<&Baseline>) -> anyhow::Result<Outcome> {
    let today = time::OffsetDateTime::now_utc().date();
    let gate = Gate::evaluate(run, baseline, today);
    let written = qoauth_report::write_reports(&args.report, run, &gate)?;
    print!("{}", qoauth_report::console_summary(run, &gate));
    println!("reports: {}", args.report.display());
    tracing::debug!(files = ?written, "reports written");
    Ok(if gate.passed() {
        Outcome::Passed
    } else {
        Outcome::GateFailed
    })
}

async fn run_cases(
    args: &RunArgs,
    catalogue: &Catalogue,
    profile: &Profile,
) -> anyhow::Result<RunResult> {
    qoauth_harness::preflight(profile).await?;
    let progress = crate::progress::RunProgress::new(catalogue.cases.len());
    let options = RunOptions {
        concurrency: usize::from(args.jobs),
        progress: Some(progress.callback()),
        ..RunOptions::default()
    };
    let result = qoauth_harness::run(&catalogue.cases, profile, &options).await;
    progress.finish();
    Ok(result?)
}
