//! Every case of the catalogue as its own test, named by its id, through libtest-mimic:
//! `cargo test -p qoauth --test conformance -- token.refresh` filters, `--list`,
//! `--exact` and `--ignored` work, and so does cargo-nextest (each trial works alone in a
//! fresh process: the target starts lazily on first use).
//!
//! Target: the embedded reference by default; `QOAUTH_PROFILE=FILE` and/or
//! `QOAUTH_TARGET=URL` point it elsewhere. A trial fails exactly when the gate would: a MUST
//! case that fails or errs (a broken invariant counts as MUST, whatever the case's level),
//! with the reason; a warning passes with it printed; skip is reported as ignored with the
//! reason. Each case's normalized transcript is an insta snapshot under
//! `reports/snapshots/<profile name>/` (or `$QOAUTH_SNAPSHOT_DIR/<profile name>/`). Where that file exists (committed, for the reference)
//! drift fails; where it does not (a target seen for the first time), it is written there
//! for review and the verdict alone decides.

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use qoauth_harness::result::{CaseResult, Level, Verdict};
use qoauth_harness::{
    embedded, error_chain, plan, run, snapshot, Case, Catalogue, Profile, RunOptions,
};
use qoauth_testkit::paths::repo_root;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// The configured target, before anything is started.
struct Target {
    profile: Profile,
    embedded: bool,
}

fn configured_target() -> Result<Target, String> {
    let profile_path = std::env::var_os("QOAUTH_PROFILE").filter(|v| !v.is_empty());
    let target_url = std::env::var("QOAUTH_TARGET")
        .ok()
        .filter(|v| !v.is_empty());
    let embedded = profile_path.is_none() && target_url.is_none();
    let profile = match &profile_path {
        Some(p) => Profile::load(Path::new(p)).map_err(|e| error_chain(&e))?,
        None => qoauth_harness::profile::reference_profile().map_err(|e| error_chain(&e))?,
    };
    let profile = match target_url {
        Some(u) => profile
            .with_base_url(&u)
            .map_err(|e| format!("QOAUTH_TARGET: {}", error_chain(&e)))?,
        None => profile,
    };
    Ok(Target { profile, embedded })
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}

/// The profile to run against, starting the embedded reference on first use (once per
/// process, so a trial run alone by nextest starts its own).
fn live_profile(target: &Target) -> Result<&'static Profile, String> {
    static LIVE: OnceLock<Result<Profile, String>> = OnceLock::new();
    LIVE.get_or_init(|| {
        if !target.embedded {
            return Ok(target.profile.clone());
        }
        let e = runtime()
            .block_on(embedded::start())
            .map_err(|e| format!("cannot start the embedded reference: {}", error_chain(&e)))?;
        let profile = e.profile.clone();
        // The server lives as long as the process.
        std::mem::forget(e.server);
        Ok(profile)
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// `reports/snapshots/<profile name>/`, or `QOAUTH_SNAPSHOT_DIR/<profile name>/` when that
/// is set (snapshots of a tenant kept outside the repository).
fn snapshot_dir(profile: &Profile) -> PathBuf {
    std::env::var_os("QOAUTH_SNAPSHOT_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("reports/snapshots"))
        .join(&profile.name)
}

fn describe_failure(r: &CaseResult) -> String {
    let mut s = format!(
        "{} ({:?}): {}",
        format!("{:?}", r.verdict).to_lowercase(),
        r.level,
        r.reason.as_deref().unwrap_or("")
    );
    if let Some(at) = r.findings.first().and_then(|f| f.at.as_deref()) {
        s.push_str(&format!("\n  at {at}"));
    }
    for f in r.findings.iter().skip(1) {
        s.push_str(&format!(
            "\n  {}: expected {}, got {}",
            f.step, f.expected, f.actual
        ));
        if let Some(at) = &f.at {
            s.push_str(&format!(" ({at})"));
        }
    }
    if let Some(refs) = r.refs.first() {
        s.push_str(&format!("\n  clause: {} {}", refs.doc, refs.section));
    }
    s
}

/// A target seen for the first time has no snapshots: each case's is written where insta
/// would read it, in insta's format, for a person to review and commit. From then on a
/// change fails. The first one written says where, once per run.
fn write_for_review(
    dir: &Path,
    file: &Path,
    case: &Case,
    value: &serde_json::Value,
) -> Result<Completion, Failed> {
    static SAID: std::sync::Once = std::sync::Once::new();
    std::fs::create_dir_all(dir)
        .map_err(|e| Failed::from(format!("cannot create {}: {e}", dir.display())))?;
    let path = case.file.display().to_string();
    let input = path
        .rfind("/cases/")
        .map_or(path.clone(), |i| path[i + 1..].to_string());
    let body = serde_json::to_string_pretty(value).map_err(|e| Failed::from(e.to_string()))?;
    let text = format!(
        "---\nsource: suite/qoauth/tests/conformance.rs\ninput_file: {input}\n---\n{body}\n"
    );
    std::fs::write(file, text)
        .map_err(|e| Failed::from(format!("cannot write {}: {e}", file.display())))?;
    SAID.call_once(|| {
        eprintln!(
            "no committed snapshots for this target: written to {} for review; commit them to make drift fail",
            dir.display()
        );
    });
    Ok(Completion::Completed)
}

fn run_trial(case: Arc<Case>, target: &'static Target) -> Result<Completion, Failed> {
    let profile = live_profile(target)?;
    let opts = RunOptions {
        concurrency: 1,
        // An explicit `--ignored` run may include destructive cases.
        force_destructive: true,
        ..RunOptions::default()
    };
    let result = runtime()
        .block_on(run(std::slice::from_ref(&case), profile, &opts))
        .map_err(|e| Failed::from(error_chain(&e)))?;
    let r = result
        .cases
        .into_iter()
        .next()
        .ok_or("the run returned no result")?;
    match (r.verdict, r.level) {
        (Verdict::Skip, _) => return Ok(Completion::ignored_with(r.reason.unwrap_or_default())),
        (Verdict::Fail | Verdict::Error, Level::Must) => return Err(describe_failure(&r).into()),
        (Verdict::Warn | Verdict::Fail | Verdict::Error, _) => {
            eprintln!("{}: {}", case.id, describe_failure(&r));
        }
        (Verdict::Pass | Verdict::Info, _) => {}
    }
    let dir = snapshot_dir(profile);
    let value = snapshot(&r);
    let file = dir.join(format!("{}.snap", case.id));
    if !file.exists() {
        return write_for_review(&dir, &file, &case, &value);
    }
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(dir);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_input_file(&case.file);
    let id = case.id.clone();
    settings.bind(|| insta::assert_json_snapshot!(id, value));
    Ok(Completion::Completed)
}

fn main() {
    let args = Arguments::from_args();
    let catalogue = match Catalogue::load(&Catalogue::default_dir()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let target: &'static Target = match configured_target() {
        Ok(t) => Box::leak(Box::new(t)),
        Err(e) => {
            eprintln!("bad target: {e}");
            std::process::exit(2);
        }
    };
    let trials = catalogue
        .cases
        .iter()
        .map(|case| {
            // Skipped cases are ignored trials: `--ignored` runs them (destructive ones
            // then really run; those missing a capability report why they cannot).
            let ignored = plan::skip_reason(case, &target.profile).is_some();
            let case = Arc::clone(case);
            Trial::ignorable_test(case.id.clone(), move || run_trial(case, target))
                .with_ignored_flag(ignored)
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
