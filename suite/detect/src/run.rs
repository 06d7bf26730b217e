//! Running the detection matrix: a server per run, the runs themselves, and which results
//! count as catching a fault. What the figures mean is decided here; how they read is the
//! renderer's business, so a change of wording cannot change a catch.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use qoauth_harness::result::{CaseResult, Level, Verdict};
use qoauth_harness::{Case, Catalogue, Profile, RunOptions};
use qoauth_reference::{Fault, Faults, Fixture, RunningServer, Tls};

use crate::clauses;
use crate::{
    DetectError, FalsePositive, FaultRow, Matrix, MatrixOptions, PropertyCatch, PropertyInfo,
};

/// Transport failures after which a property of a faulty run gives up (see
/// [`qoauth_props::Options::max_transport_failures`]).
const MAX_TRANSPORT_FAILURES: u32 = 3;

/// The faults that throttle every client: in a run of the whole catalogue, which requests
/// meet the lowered limit depends on how the concurrent cases interleave, so the side
/// effects would differ from run to run. Against them only the isolated cases run, each on
/// a server of its own, which makes the catch the same every time.
fn throttles(f: Fault) -> bool {
    matches!(f, Fault::TierBelowAllowance)
}

/// The faults whose symptom is a client-side timeout.
fn caught_by_timeout(f: Fault) -> bool {
    matches!(f, Fault::SlowToken | Fault::HangingRevoke)
}

/// Whether one case result catches `fault` (`None`: the clean reference).
fn catches(fault: Fault, r: &CaseResult) -> bool {
    if !matches!(r.level, Level::Must | Level::Should) {
        return false;
    }
    match r.verdict {
        Verdict::Fail | Verdict::Warn => true,
        Verdict::Error => caught_by_timeout(fault) && clauses::names_timeout(r.reason.as_deref()),
        Verdict::Pass | Verdict::Skip | Verdict::Info => false,
    }
}

/// The reference's profile, which every run's profile starts from.
pub(crate) fn reference_profile() -> Result<Profile, DetectError> {
    qoauth_harness::profile::reference_profile().map_err(|e| DetectError::Profile {
        path: qoauth_harness::profile::reference_profile_path(),
        source: e,
    })
}

/// The reference's profile with a request timeout.
fn profile(timeout: Duration) -> Result<Profile, DetectError> {
    let mut p = reference_profile()?;
    p.request_timeout = timeout;
    // A case of several steps against a hanging endpoint must still end on its own.
    p.case_timeout = timeout * 4;
    // Destructive cases exhaust budgets shared by the whole run (rate limits), so their
    // outcome would depend on what else ran: they run apart (see `run_isolated`).
    p.allow_destructive = false;
    // Against `slow-token` and `hanging-revoke` the run would otherwise take the target for
    // stalled whenever only their slow requests are left in flight, and which cases were
    // still to be sent then would decide the catches.
    p.stall_detection = false;
    // Against `tier-below-allowance` every case past the lowered limit would otherwise
    // wait out its Retry-After, minutes in all.
    p.retry_rate_limited = false;
    Ok(p)
}

/// Starts a reference with `fault` on (none: the clean one) on a port of its own: no run
/// shares a server, so what one leaves behind (used codes, spent budgets) cannot sway another.
async fn spawn(fixture: Fixture, fault: Option<Fault>) -> Result<RunningServer, DetectError> {
    let addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let faults = fault.map_or_else(Faults::default, |f| Faults::of([f]));
    qoauth_reference::spawn_faulty(fixture, addr, Tls::None, faults)
        .await
        .map_err(|e| DetectError::Server {
            server: match fault {
                None => "the clean reference".to_string(),
                Some(f) => format!("the reference with fault {}", f.name()),
            },
            source: e,
        })
}

/// Lifetimes of the servers isolated cases run against: short enough that waiting them
/// out costs seconds, the code's shorter than the refresh token's as on real tenants.
const SHORT_CODE_SECONDS: u64 = 1;
const SHORT_REFRESH_SECONDS: u64 = 2;

/// `fixture` with [`SHORT_CODE_SECONDS`] and [`SHORT_REFRESH_SECONDS`]; `name` says which
/// fixture, should the shortened one be refused.
pub(crate) fn short_lived(fixture: &Fixture, name: &str) -> Result<Fixture, DetectError> {
    let mut spec = fixture.spec().clone();
    spec.lifetimes.code_seconds = SHORT_CODE_SECONDS;
    spec.lifetimes.refresh_token_seconds = SHORT_REFRESH_SECONDS;
    Fixture::from_spec(spec).map_err(|source| DetectError::Fixture {
        fixture: format!(
            "{name} with {SHORT_CODE_SECONDS} s codes and {SHORT_REFRESH_SECONDS} s refresh tokens"
        ),
        source,
    })
}

/// Tells `profile` the lifetimes of a [`short_lived`] server, so waiting cases run.
pub(crate) fn expect_short_lifetimes(profile: &mut Profile) {
    profile.lifetimes = [
        ("code".to_string(), SHORT_CODE_SECONDS),
        ("refresh_token".to_string(), SHORT_REFRESH_SECONDS),
    ]
    .into_iter()
    .collect();
}

/// Whether a case waits out one of the target's lifetimes.
pub(crate) fn waits(case: &Case) -> bool {
    case.steps.iter().any(|s| s.wait.is_some())
}

/// Whether a case runs on a server of its own: destructive cases spend budgets (rate
/// limits) every other case shares, and waiting cases need lifetimes short enough to
/// wait out; alone on a fresh short-lived server, both judge exactly their own rule.
fn isolated(case: &Case) -> bool {
    case.destructive || waits(case)
}

/// Runs every isolated case (see [`isolated`]) against a short-lived server of its own
/// with `fault`, all at once, and puts each result in place of the shared run's skip (or
/// adds it, where there was no shared run).
async fn run_isolated(
    cases: &[Arc<Case>],
    profile: &Profile,
    fault: Option<Fault>,
    opts: &MatrixOptions,
    results: &mut Vec<CaseResult>,
) -> Result<(), DetectError> {
    let fixture = short_lived(&Fixture::default_fixture(), "the default fixture")?;
    let mut profile = profile.clone();
    profile.allow_destructive = true;
    expect_short_lifetimes(&mut profile);
    let mut set = tokio::task::JoinSet::new();
    for case in cases.iter().filter(|c| isolated(c)) {
        let (case, profile, fixture, opts) = (
            Arc::clone(case),
            profile.clone(),
            fixture.clone(),
            opts.clone(),
        );
        set.spawn(async move {
            let server = spawn(fixture, fault).await?;
            run_against(&[case], &profile, server, &opts).await
        });
    }
    while let Some(joined) = set.join_next().await {
        for r in joined.map_err(|source| DetectError::Aborted {
            run: "an isolated case's run",
            source,
        })?? {
            put_in_place(results, r);
        }
    }
    Ok(())
}

/// Puts a case's result from a run of its own in place of the shared run's (a skip), or
/// adds it where the shared run had none.
pub(crate) fn put_in_place(results: &mut Vec<CaseResult>, r: CaseResult) {
    match results.iter_mut().find(|s| s.id == r.id) {
        Some(slot) => *slot = r,
        None => results.push(r),
    }
}

/// `profile` aimed at `server`.
fn profile_for(profile: &Profile, server: &RunningServer) -> Result<Profile, DetectError> {
    profile
        .clone()
        .with_base_url(&server.base_url)
        .map_err(|e| DetectError::BaseUrl {
            url: server.base_url.clone(),
            source: e,
        })
}

/// Runs the catalogue once against `server`, then shuts it down.
pub(crate) async fn run_against(
    cases: &[Arc<Case>],
    profile: &Profile,
    server: RunningServer,
    opts: &MatrixOptions,
) -> Result<Vec<CaseResult>, DetectError> {
    let profile = profile_for(profile, &server)?;
    let options = RunOptions {
        concurrency: opts.case_concurrency,
        // The server is thrown away after the run; revoking against a hanging revocation
        // endpoint would only wait out more timeouts.
        revoke: false,
        ..RunOptions::default()
    };
    let result = qoauth_harness::run(cases, &profile, &options).await;
    let url = server.base_url.clone();
    // Requests stuck in a hanging handler are cut off by the shutdown's grace period,
    // which is not worth waiting for.
    tokio::spawn(server.shutdown());
    match result {
        Ok(run) => Ok(run.cases),
        Err(e) => Err(DetectError::Cases { url, source: e }),
    }
}

/// Runs every property once against `server`, then shuts it down. Failing scenarios are
/// written under `out_dir` (the property runner always writes them; these are not worth
/// keeping) rather than into `reports/properties/`.
pub(crate) async fn properties_against(
    profile: &Profile,
    server: RunningServer,
    opts: &MatrixOptions,
    out_dir: PathBuf,
) -> Result<Vec<CaseResult>, DetectError> {
    let profile = profile_for(profile, &server)?;
    let options = qoauth_props::Options {
        cases: opts.property_cases,
        seed: Some(opts.property_seed),
        out_dir,
        regressions: None,
        // The first failing input already names the rule; shrinking would only spend time.
        max_shrink_iters: 0,
        announce_failures: false,
        revoke_issued: false,
        // Against `slow-token` or `hanging-revoke` a property that does not judge timeouts
        // would otherwise wait out dozens of them; `rfc9110_15_6_no_server_error_or_hang`
        // fails on the first.
        max_transport_failures: Some(MAX_TRANSPORT_FAILURES),
        ..qoauth_props::Options::default()
    };
    let result = tokio::task::spawn_blocking(move || {
        qoauth_props::run_properties_with(Some(profile), &options)
    })
    .await
    .map_err(|source| DetectError::Aborted {
        run: "the property run",
        source,
    })?;
    let url = server.base_url.clone();
    tokio::spawn(server.shutdown());
    match result {
        Ok((run, _)) => Ok(run.cases),
        Err(e) => Err(DetectError::Properties { url, source: e }),
    }
}

fn property_name(id: &str) -> &str {
    id.strip_prefix("property.").unwrap_or(id)
}

/// Whether one property result catches the fault: a MUST or SHOULD property that failed or
/// warned. An error means the generated scenarios could not reach the rule, which says
/// nothing about it.
fn property_catches(r: &CaseResult) -> bool {
    matches!(r.level, Level::Must | Level::Should)
        && matches!(r.verdict, Verdict::Fail | Verdict::Warn)
}

fn clauses(r: &CaseResult) -> String {
    r.refs
        .iter()
        .map(|x| format!("{} {}", x.doc, x.section))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Keeps the deliberate panics of `panic-on-json-array` quiet and cheap: the default hook
/// would print, and in debug builds symbolize, a backtrace for each, long enough to run
/// into the request timeout. Every other panic still goes to the previous hook.
fn quiet_fault_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info
                .payload()
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str))
                .unwrap_or("");
            if !msg.starts_with("fault ") {
                previous(info);
            }
        }));
    });
}

/// One run of the matrix: the catalogue or the properties, against one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Run {
    Cases,
    Properties,
}

/// What one run gave back: results and how long it took.
type Outcome = (Option<Fault>, Run, Vec<CaseResult>, Duration);

/// Runs the clean reference and every fault (each its case run and its property run),
/// `parallel_faults` runs at a time.
pub async fn run(catalogue: &Catalogue, opts: &MatrixOptions) -> Result<Matrix, DetectError> {
    quiet_fault_panics();
    let cases: Arc<Vec<Arc<Case>>> = Arc::new(catalogue.cases.clone());
    let patient = Arc::new(profile(opts.patient_timeout)?);
    let impatient = Arc::new(profile(opts.request_timeout)?);
    let opts = Arc::new(opts.clone());
    let faults: Vec<Fault> = if opts.only.is_empty() {
        Fault::ALL.to_vec()
    } else {
        opts.only.clone()
    };
    let scratch = ScratchDir::new()?;

    let sem = Arc::new(tokio::sync::Semaphore::new(opts.parallel_faults.max(1)));
    let mut set: tokio::task::JoinSet<Result<Outcome, DetectError>> = tokio::task::JoinSet::new();
    let runs = if opts.property_cases > 0 {
        vec![Run::Cases, Run::Properties]
    } else {
        vec![Run::Cases]
    };
    // The clean runs first: they are the longest (every case) and must finish anyway.
    let jobs = std::iter::once(None).chain(faults.iter().copied().map(Some));
    for fault in jobs {
        for &which in &runs {
            let profile = match fault {
                Some(f) if caught_by_timeout(f) => Arc::clone(&impatient),
                _ => Arc::clone(&patient),
            };
            // Every case runs against every fault, the MAY and INFO ones too: what they
            // record no clause fixes, but the invariants every response meets (no 5xx, a
            // listed status, a readable error body) judge their requests as well.
            let cases = Arc::clone(&cases);
            let (opts, sem) = (Arc::clone(&opts), Arc::clone(&sem));
            let out_dir = scratch.path().join(fault.map_or("clean", |f| f.name()));
            set.spawn(async move {
                let _permit = sem.acquire_owned().await;
                let t0 = std::time::Instant::now();
                // Against a fault that throttles every client only the isolated cases run
                // (see `throttles`), each on a server of its own.
                let shared = !fault.is_some_and(throttles);
                let results = match which {
                    Run::Cases => {
                        let mut results = if shared {
                            let server = spawn(Fixture::default_fixture(), fault).await?;
                            run_against(&cases, &profile, server, &opts).await?
                        } else {
                            Vec::new()
                        };
                        run_isolated(&cases, &profile, fault, &opts, &mut results).await?;
                        results
                    }
                    Run::Properties if shared => {
                        let server = spawn(Fixture::default_fixture(), fault).await?;
                        properties_against(&profile, server, &opts, out_dir).await?
                    }
                    Run::Properties => Vec::new(),
                };
                Ok((fault, which, results, t0.elapsed()))
            });
        }
    }
    let mut outcomes: BTreeMap<(Option<Fault>, Run), (Vec<CaseResult>, Duration)> = BTreeMap::new();
    while let Some(joined) = set.join_next().await {
        let (fault, which, results, elapsed) =
            joined.map_err(|source| DetectError::Aborted {
                run: "a run of the matrix",
                source,
            })??;
        outcomes.insert((fault, which), (results, elapsed));
    }
    drop(scratch);

    let mut false_positives = Vec::new();
    if let Some((results, _)) = outcomes.get(&(None, Run::Cases)) {
        false_positives.extend(
            results
                .iter()
                .filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::Warn | Verdict::Error))
                .map(false_positive),
        );
    }
    let mut properties = Vec::new();
    if let Some((results, _)) = outcomes.get(&(None, Run::Properties)) {
        false_positives.extend(
            results
                .iter()
                .filter(|r| r.verdict != Verdict::Pass)
                .map(false_positive),
        );
        properties = results
            .iter()
            .map(|r| PropertyInfo {
                name: property_name(&r.id).to_string(),
                level: r.level,
                clauses: clauses(r),
            })
            .collect();
    }
    let mut rows: Vec<FaultRow> = faults
        .iter()
        .map(|&fault| {
            let (case_results, elapsed) = outcomes
                .remove(&(Some(fault), Run::Cases))
                .unwrap_or_default();
            let (prop_results, properties_elapsed) = outcomes
                .remove(&(Some(fault), Run::Properties))
                .unwrap_or_default();
            let broken = clauses::parse_reference(fault.reference());
            let catchers: Vec<&CaseResult> =
                case_results.iter().filter(|r| catches(fault, r)).collect();
            let caught_by: BTreeSet<String> = catchers.iter().map(|r| r.id.clone()).collect();
            let caught_on_rule: BTreeSet<String> = catchers
                .iter()
                .filter(|r| names_rule(&broken, r))
                .map(|r| r.id.clone())
                .collect();
            let mut caught_by_properties: Vec<PropertyCatch> = prop_results
                .iter()
                .filter(|r| property_catches(r))
                .map(|r| PropertyCatch {
                    name: property_name(&r.id).to_string(),
                    verdict: r.verdict,
                    reason: r.reason.clone().unwrap_or_default(),
                    on_rule: names_rule(&broken, r),
                })
                .collect();
            caught_by_properties.sort_by(|a, b| a.name.cmp(&b.name));
            FaultRow {
                fault,
                caught_by: caught_by.into_iter().collect(),
                caught_on_rule: caught_on_rule.into_iter().collect(),
                caught_by_properties,
                elapsed,
                properties_elapsed,
            }
        })
        .collect();
    rows.sort_by_key(|r| r.fault);
    Ok(Matrix {
        cases: cases.len(),
        properties,
        property_cases: opts.property_cases,
        property_seed: opts.property_seed,
        rows,
        false_positives,
    })
}

/// Whether a catching result names one of the clauses the fault breaks: by its refs, or by
/// what its reason reports (a timeout).
fn names_rule(broken: &[clauses::Clause], r: &CaseResult) -> bool {
    let mut named: Vec<clauses::Clause> = r.refs.iter().map(clauses::Clause::of_ref).collect();
    named.extend(clauses::implied(r.reason.as_deref()));
    clauses::on_rule(broken, &named)
}

fn false_positive(r: &CaseResult) -> FalsePositive {
    FalsePositive {
        case_id: r.id.clone(),
        verdict: r.verdict,
        reason: r.reason.clone().unwrap_or_default(),
    }
}

/// Where the property runs write their failing scenarios; removed when the matrix ends.
pub(crate) struct ScratchDir(PathBuf);

impl ScratchDir {
    pub(crate) fn new() -> Result<ScratchDir, DetectError> {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("qoauth-detect-{}-{n}", std::process::id()));
        match std::fs::create_dir_all(&dir) {
            Ok(()) => Ok(ScratchDir(dir)),
            Err(source) => Err(DetectError::Scratch { path: dir, source }),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
