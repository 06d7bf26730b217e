//! Running properties: one proptest runner per property, all sharing the engine (so the
//! profile's budget and rate limit hold for the run as a whole, shrinking included),
//! seeded from the run's seed so a failure can be replayed, each ending as one case
//! result in the run's report.

use crate::casefile;
use crate::catalogue::{self, Input, Property};
use crate::differential::{self, Class};
use crate::exec::{Executed, Stop, Target};
use crate::gen::{self, Vocab};
use crate::rules::{Ctx, Verdict as Rule, Violation};
use crate::transcript;
use proptest::prelude::*;
use proptest::test_runner::{
    Config, FileFailurePersistence, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner,
};
use qoauth_harness::profile::Profile;
use qoauth_harness::redact::Redactor;
use qoauth_harness::result::{CaseResult, Finding, Level, Reference, RunResult, RunStats, Verdict};
use serde_json::{json, Value};
use sha2::Digest;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// How a property run goes.
#[derive(Debug, Clone)]
pub struct Options {
    /// Generated cases per property.
    pub cases: u32,
    /// The run's seed; every property's generator derives from it. Random when `None`.
    pub seed: Option<u64>,
    /// Requests the whole run may send (shrinking included), on top of the profile's.
    pub budget: Option<u64>,
    /// Where minimal failing scenarios are written as case files.
    pub out_dir: PathBuf,
    /// Where proptest keeps failing seeds to replay first; `None` keeps none.
    pub regressions: Option<PathBuf>,
    /// Only properties whose name contains one of these (all when empty).
    pub only: Vec<String>,
    /// Also send every scenario to an embedded reference and compare.
    pub differential: bool,
    /// Shrinking attempts per failure (each costs requests).
    pub max_shrink_iters: u32,
    /// Print a line on stderr for each failing property. Callers that run many
    /// property runs and report the verdicts themselves (the detection matrix) turn it off.
    pub announce_failures: bool,
    /// Against a named target, revoke what the run was issued when it ends, leaving a
    /// real tenant as it was. A throwaway server (one per fault of the detection matrix)
    /// needs no clean-up, and one whose revocation hangs would hold the run's end.
    pub revoke_issued: bool,
    /// Give a property up (an error verdict) once this many of its scenarios ended on a
    /// transport failure (a timeout, a dropped connection) it does not judge. Against an
    /// endpoint that hangs, every scenario through it waits out the request timeout, and
    /// a property would wait out dozens before proptest gives up on the rejections.
    /// `None` never gives up.
    pub max_transport_failures: Option<u32>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            cases: 256,
            seed: None,
            budget: None,
            out_dir: default_out_dir(),
            regressions: None,
            only: Vec::new(),
            differential: false,
            max_shrink_iters: 512,
            announce_failures: true,
            revoke_issued: true,
            max_transport_failures: None,
        }
    }
}

/// `reports/properties/` of the workspace.
pub fn default_out_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../reports/properties")
}

/// The committed proptest regression files.
pub fn regressions_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("proptest-regressions")
}

/// A property's outcome beyond its case result, for callers that need the files.
#[derive(Debug, Clone)]
pub struct Found {
    pub property: String,
    pub case_file: Option<PathBuf>,
}

fn seed32(seed: u64, name: &str) -> [u8; 32] {
    let mut h = sha2::Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(name.as_bytes());
    h.finalize().into()
}

fn leak(p: PathBuf) -> &'static str {
    Box::leak(p.to_string_lossy().into_owned().into_boxed_str())
}

/// The last failure seen: after shrinking, the minimal one.
struct Failure {
    input: Input,
    executed: Executed,
    violation: Violation,
    class: Option<Class>,
}

/// One property's judge of one input: runs it and returns what the rule says.
type Judge<'a> = dyn Fn(&Input) -> (Executed, Rule, Option<Class>) + Sync + 'a;

pub(crate) struct Shared<'a> {
    pub handle: tokio::runtime::Handle,
    pub target: &'a Target,
    pub reference: Option<&'a Target>,
    pub vocab: Vocab,
    pub seed: u64,
    pub opts: &'a Options,
}

/// Runs one property to a case result.
pub(crate) fn run_property(sh: &Shared<'_>, prop: &Property) -> (CaseResult, Found) {
    let t0 = Instant::now();
    let mut result = CaseResult {
        id: format!("property.{}", prop.name),
        title: prop.title.to_string(),
        level: prop.level,
        endpoint: prop.endpoint.to_string(),
        refs: prop.refs.clone(),
        verdict: Verdict::Skip,
        reason: None,
        findings: Vec::new(),
        records: BTreeMap::new(),
        choices: Vec::new(),
        transcript: Vec::new(),
        requests: 0,
        duration_ms: 0.0,
    };
    let found = Found {
        property: prop.name.to_string(),
        case_file: None,
    };
    if let Some(why) = (prop.needs)(&sh.vocab) {
        result.reason = Some(why.to_string());
        return (result, found);
    }
    let check = prop.check;
    let judge = move |input: &Input| -> (Executed, Rule, Option<Class>) {
        let ex = sh.handle.block_on(sh.target.execute(&input.scenario));
        let ctx = Ctx {
            profile: &sh.target.profile,
            now: qoauth_harness::template::now_unix(),
            shrinking: sh.opts.max_shrink_iters > 0,
        };
        let v = match check(&ctx, input, &ex) {
            broken @ Rule::Broken(_) => broken,
            other => crate::rules::invariants(&ex, &sh.target.profile).map_or(other, Rule::Broken),
        };
        (ex, v, None)
    };
    let strategy = (prop.strategy)(&sh.vocab);
    run_with_judge(
        sh,
        &Drive {
            name: prop.name,
            level: prop.level,
            strategy: &strategy,
            judge: &judge,
        },
        (result, found),
        t0,
    )
}

/// The differential property: every scenario to the target and to the reference.
pub(crate) fn run_differential(sh: &Shared<'_>) -> (CaseResult, Found) {
    let t0 = Instant::now();
    let name = "differential_reference_agreement";
    let result = CaseResult {
        id: format!("property.{name}"),
        title: "The target answers generated requests and flows as the reference does".into(),
        level: Level::Must,
        endpoint: "token".into(),
        refs: vec![
            Reference {
                doc: "spec".into(),
                section: "POST /oauth/token".into(),
                quote: None,
            },
            Reference {
                doc: "notes".into(),
                section: "Ambiguities".into(),
                quote: Some("the most reasonable reading".into()),
            },
        ],
        verdict: Verdict::Skip,
        reason: None,
        findings: Vec::new(),
        records: BTreeMap::new(),
        choices: Vec::new(),
        transcript: Vec::new(),
        requests: 0,
        duration_ms: 0.0,
    };
    let found = Found {
        property: name.into(),
        case_file: None,
    };
    let Some(reference) = sh.reference else {
        let mut r = result;
        r.reason = Some("differential mode is off".into());
        return (r, found);
    };
    let info: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let v = sh.vocab.clone();
    let strategy: BoxedStrategy<Input> = if v.flows() {
        prop_oneof![5 => gen::any_request(&v), 1 => crate::flows::flow_scenario(&v)]
            .prop_map(|scenario| Input {
                scenario,
                ops: None,
                seen: None,
            })
            .boxed()
    } else {
        gen::any_request(&v)
            .prop_map(|scenario| Input {
                scenario,
                ops: None,
                seen: None,
            })
            .boxed()
    };
    let judge = |input: &Input| -> (Executed, Rule, Option<Class>) {
        let (ex, rx) = sh.handle.block_on(async {
            tokio::join!(
                sh.target.execute(&input.scenario),
                reference.execute(&input.scenario)
            )
        });
        match differential::compare(&input.scenario, &ex, &rx) {
            None => (ex, Rule::Held, None),
            Some((Class::Info, v)) => {
                if let Ok(mut l) = info.lock() {
                    if l.len() < 20 {
                        l.push(format!(
                            "{}: expected {}, got {}",
                            input.scenario.endpoint(),
                            v.expected,
                            v.actual
                        ));
                    }
                }
                (ex, Rule::Held, Some(Class::Info))
            }
            Some((c, v)) => (ex, Rule::Broken(Box::new(v)), Some(c)),
        }
    };
    let drive = Drive {
        name,
        level: Level::Must,
        strategy: &strategy,
        judge: &judge,
    };
    let (mut r, f) = run_with_judge(sh, &drive, (result, found), t0);
    if let Ok(l) = info.lock() {
        if !l.is_empty() {
            r.records
                .insert("informational_disagreements".into(), json!(l.clone()));
        }
    }
    (r, f)
}

/// One property as the runner drives it: what it generates and how each input is judged.
struct Drive<'a> {
    name: &'a str,
    level: Level,
    strategy: &'a BoxedStrategy<Input>,
    judge: &'a Judge<'a>,
}

/// Runs a property to its result; `so_far` is the result and findings it starts from.
fn run_with_judge(
    sh: &Shared<'_>,
    drive: &Drive<'_>,
    so_far: (CaseResult, Found),
    t0: Instant,
) -> (CaseResult, Found) {
    let Drive {
        name,
        level,
        strategy,
        judge,
    } = *drive;
    let (mut result, mut found) = so_far;
    let opts = sh.opts;
    let failure_persistence = opts.regressions.as_ref().map(|dir| {
        let _ = std::fs::create_dir_all(dir);
        Box::new(FileFailurePersistence::Direct(leak(
            dir.join(format!("{name}.txt")),
        ))) as Box<dyn proptest::test_runner::FailurePersistence>
    });
    let config = Config {
        cases: opts.cases,
        max_shrink_iters: opts.max_shrink_iters,
        max_global_rejects: opts.cases.saturating_mul(4).max(64),
        max_local_rejects: 65_536,
        failure_persistence,
        source_file: None,
        verbose: 0,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed32(sh.seed, name)),
    );
    let last: Mutex<Option<Failure>> = Mutex::new(None);
    let budget_spent = AtomicBool::new(false);
    let transport_failures = AtomicU32::new(0);
    let last_transport: Mutex<Option<String>> = Mutex::new(None);
    let gave_up = AtomicBool::new(false);
    let runs = AtomicU32::new(0);
    let requests = AtomicU64::new(0);
    let info = AtomicU32::new(0);
    let last_reject: Mutex<Option<String>> = Mutex::new(None);
    // What the target answered, so a report shows the rule was exercised (successes
    // judged, refusals judged) and not passed vacuously.
    let statuses: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());
    let outcome = runner.run(strategy, |input: Input| {
        if budget_spent.load(Ordering::Relaxed)
            || gave_up.load(Ordering::Relaxed)
            || sh.target.engine.stalled().is_some()
        {
            return Ok(());
        }
        runs.fetch_add(1, Ordering::Relaxed);
        let (ex, verdict, class) = judge(&input);
        requests.fetch_add(u64::from(ex.requests), Ordering::Relaxed);
        if let Ok(mut m) = statuses.lock() {
            for e in ex.all_exchanges() {
                let key = e
                    .response
                    .as_ref()
                    .map_or_else(|| "transport error".to_string(), |o| o.status.to_string());
                *m.entry(key).or_insert(0) += 1;
            }
        }
        if matches!(ex.stop, Some(Stop::Budget)) {
            budget_spent.store(true, Ordering::Relaxed);
            return Ok(());
        }
        if class == Some(Class::Info) {
            info.fetch_add(1, Ordering::Relaxed);
        }
        if let (Some(Stop::Transport { error, .. }), Some(cap)) =
            (&ex.stop, opts.max_transport_failures)
        {
            if !matches!(verdict, Rule::Broken(_)) {
                if let Ok(mut l) = last_transport.lock() {
                    *l = Some(error.to_string());
                }
                if transport_failures.fetch_add(1, Ordering::Relaxed) + 1 >= cap {
                    gave_up.store(true, Ordering::Relaxed);
                    return Ok(());
                }
            }
        }
        match verdict {
            Rule::Held => Ok(()),
            Rule::NotApplicable(why) => {
                if let Ok(mut l) = last_reject.lock() {
                    *l = Some(why.clone());
                }
                Err(TestCaseError::reject(why))
            }
            Rule::Broken(v) => {
                let msg = format!("expected {}; saw {}", v.expected, v.actual);
                if let Ok(mut l) = last.lock() {
                    *l = Some(Failure {
                        input,
                        executed: ex,
                        violation: *v,
                        class,
                    });
                }
                Err(TestCaseError::fail(msg))
            }
        }
    });
    let n = runs.load(Ordering::Relaxed);
    result.requests = u32::try_from(requests.load(Ordering::Relaxed)).unwrap_or(u32::MAX);
    result.records.insert("seed".into(), json!(sh.seed));
    result.records.insert("cases_run".into(), json!(n));
    if let Ok(m) = statuses.lock() {
        result.records.insert("statuses".into(), json!(*m));
    }
    if info.load(Ordering::Relaxed) > 0 {
        result
            .records
            .insert("informational".into(), json!(info.load(Ordering::Relaxed)));
    }
    // The engine takes the target for stalled once nothing has answered for a while (see
    // `qoauth_harness::exec::Engine::stalled`); every property then ends unjudged.
    let stalled = sh
        .target
        .engine
        .stalled()
        .map(|why| format!("{why}; the rule was not judged"));
    match outcome {
        // A counterexample found before the stall still stands; anything else is unjudged.
        Ok(()) | Err(TestError::Abort(_)) if stalled.is_some() => {
            result.verdict = Verdict::Error;
            result.reason = stalled;
        }
        Ok(()) if budget_spent.load(Ordering::Relaxed) => {
            result.verdict = Verdict::Skip;
            result.reason = Some(format!(
                "the run's request budget was spent after {n} cases; no counterexample so far"
            ));
        }
        Ok(()) if gave_up.load(Ordering::Relaxed) => {
            result.verdict = Verdict::Error;
            let last = last_transport
                .lock()
                .ok()
                .and_then(|l| l.clone())
                .unwrap_or_default();
            result.reason = Some(format!(
                "given up after {} scenarios ended on a transport failure (last: {last}); the rule was not judged",
                transport_failures.load(Ordering::Relaxed)
            ));
        }
        Ok(()) => {
            result.verdict = Verdict::Pass;
        }
        Err(TestError::Abort(why)) => {
            result.verdict = Verdict::Error;
            let last = last_reject
                .lock()
                .ok()
                .and_then(|l| l.clone())
                .unwrap_or_default();
            result.reason = Some(format!(
                "{why}: the scenarios could not reach what the rule is about ({last})"
            ));
        }
        Err(TestError::Fail(_, _)) => {
            let fail = last.lock().ok().and_then(|mut l| l.take());
            match fail {
                None => {
                    result.verdict = Verdict::Error;
                    result.reason = Some("a case failed but its record was lost".into());
                }
                Some(f) => report_failure(sh, name, level, f, &mut result, &mut found),
            }
        }
    }
    result.duration_ms = t0.elapsed().as_secs_f64() * 1000.0;
    (result, found)
}

fn report_failure(
    sh: &Shared<'_>,
    name: &str,
    level: Level,
    f: Failure,
    result: &mut CaseResult,
    found: &mut Found,
) {
    let profile: &Profile = &sh.target.profile;
    let mut redactor = Redactor::for_profile(profile);
    let raw: Vec<_> = f.executed.all_exchanges().cloned().collect();
    result.transcript = transcript::redact(&mut redactor, profile, &raw);
    let step_label = f.input.scenario.steps.get(f.violation.step).map_or_else(
        || format!("step {}", f.violation.step + 1),
        |s| s.name().to_string(),
    );
    result.findings = vec![Finding {
        at: None,
        step: step_label,
        expected: redactor.text(&f.violation.expected),
        actual: redactor.text(&f.violation.actual),
    }];
    let effective = match f.class {
        Some(Class::Warn) => Level::Should,
        _ => level,
    };
    result.verdict = match effective {
        Level::Must => Verdict::Fail,
        Level::Should => Verdict::Warn,
        _ => Verdict::Info,
    };
    let prop_meta = catalogue::all().into_iter().find(|p| p.name == name);
    let file = match &prop_meta {
        Some(p) => casefile::build(
            p,
            &f.input.scenario,
            &f.violation,
            sh.seed,
            f.input.scenario.endpoint(),
        ),
        None => casefile::build(
            &differential_meta(effective),
            &f.input.scenario,
            &f.violation,
            sh.seed,
            f.input.scenario.endpoint(),
        ),
    };
    let written = qoauth_harness::write_case_file(
        &sh.opts.out_dir,
        &casefile::file_name(name, sh.seed),
        &file,
    );
    let where_ = match &written {
        Ok(p) => {
            found.case_file = Some(p.clone());
            result
                .records
                .insert("case_file".into(), Value::String(p.display().to_string()));
            format!("minimal case written to {}", p.display())
        }
        Err(e) => format!("the minimal case could not be written: {e:#}"),
    };
    let reason = format!(
        "seed {}: {} expected {} but saw {}; {where_}",
        sh.seed, result.findings[0].step, result.findings[0].expected, result.findings[0].actual
    );
    if sh.opts.announce_failures {
        eprintln!(
            "property {name} failed (seed {}, rerun with --seed {}); {where_}",
            sh.seed, sh.seed
        );
    }
    result.reason = Some(redactor.text(&reason));
    result
        .records
        .insert("minimal_steps".into(), json!(f.input.scenario.steps.len()));
}

fn differential_meta(level: Level) -> Property {
    Property {
        name: "differential_reference_agreement",
        title: "The target answers as the reference does",
        level,
        endpoint: "token",
        refs: vec![Reference {
            doc: "spec".into(),
            section: "POST /oauth/token".into(),
            quote: None,
        }],
        strategy: |v| {
            gen::any_request(v)
                .prop_map(|scenario| Input {
                    scenario,
                    ops: None,
                    seen: None,
                })
                .boxed()
        },
        check: |_, _, _| Rule::Held,
        needs: |_| None,
    }
}

/// The result of a property whose thread panicked: an error in the report rather than a
/// property silently missing from it.
fn panicked(
    name: &str,
    title: &str,
    level: Level,
    endpoint: &str,
    refs: Vec<Reference>,
) -> (CaseResult, Found) {
    (
        CaseResult {
            id: format!("property.{name}"),
            title: title.to_string(),
            level,
            endpoint: endpoint.to_string(),
            refs,
            verdict: Verdict::Error,
            reason: Some("the property's run panicked (its message is on stderr)".into()),
            findings: Vec::new(),
            records: BTreeMap::new(),
            choices: Vec::new(),
            transcript: Vec::new(),
            requests: 0,
            duration_ms: 0.0,
        },
        Found {
            property: name.to_string(),
            case_file: None,
        },
    )
}

/// Runs every selected property against `target` (and `reference` in differential
/// mode), in parallel threads over one engine.
pub(crate) fn run_all(
    handle: tokio::runtime::Handle,
    target: &Target,
    reference: Option<&Target>,
    opts: &Options,
    seed: u64,
) -> (Vec<CaseResult>, Vec<Found>) {
    let vocab = Vocab::of(&target.profile);
    let sh = Shared {
        handle,
        target,
        reference,
        vocab,
        seed,
        opts,
    };
    let selected: Vec<Property> = catalogue::all()
        .into_iter()
        .filter(|p| opts.only.is_empty() || opts.only.iter().any(|o| p.name.contains(o.as_str())))
        .collect();
    let sh = Arc::new(sh);
    let mut out: Vec<(CaseResult, Found)> = std::thread::scope(|s| {
        let mut handles = Vec::new();
        for p in &selected {
            let sh = &sh;
            handles.push((
                panicked(p.name, p.title, p.level, p.endpoint, p.refs.clone()),
                s.spawn(move || run_property(sh, p)),
            ));
        }
        if opts.differential
            && (opts.only.is_empty()
                || opts
                    .only
                    .iter()
                    .any(|o| "differential_reference_agreement".contains(o.as_str())))
        {
            let sh = &sh;
            let meta = differential_meta(Level::Must);
            handles.push((
                panicked(meta.name, meta.title, meta.level, meta.endpoint, meta.refs),
                s.spawn(move || run_differential(sh)),
            ));
        }
        handles
            .into_iter()
            .map(|(if_panicked, h)| h.join().unwrap_or(if_panicked))
            .collect()
    });
    let found = out.iter().map(|(_, f)| f.clone()).collect();
    (out.drain(..).map(|(r, _)| r).collect(), found)
}

/// Figures of the run.
pub(crate) fn stats(target: &Target, t0: Instant) -> RunStats {
    let wall = t0.elapsed().as_secs_f64();
    let requests = target.requests();
    RunStats {
        requests,
        wall_ms: wall * 1000.0,
        requests_per_second: if wall > 0.0 {
            requests as f64 / wall
        } else {
            0.0
        },
        peak_rss_bytes: qoauth_harness::run::peak_rss_bytes(),
    }
}

/// The run's seed: given, or drawn from the clock.
pub(crate) fn pick_seed(seed: Option<u64>) -> u64 {
    seed.unwrap_or_else(|| {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        (n as u64) ^ ((n >> 64) as u64) ^ u64::from(std::process::id()).rotate_left(32)
    })
}

pub(crate) fn result(
    target: &Target,
    cases: Vec<CaseResult>,
    t0: Instant,
    started_at: String,
) -> RunResult {
    RunResult {
        target: target.profile.base().to_string(),
        profile: target.profile.name.clone(),
        started_at,
        stats: stats(target, t0),
        cases,
    }
}
