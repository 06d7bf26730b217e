//! Running cases: in parallel with bounded concurrency over one shared engine, each case
//! with its own cookie jar and timeout, results redacted before they leave, figures
//! measured, and every token the run was issued revoked at the end.

use crate::cases::{Case, Step};
use crate::error_chain;
use crate::exec::{Engine, EngineError, Prepared, RawExchange, Trace, Transport};
use crate::plan::{bind_lets, prepare_login, prepare_request, skip_reason};
use crate::profile::{Profile, ProfileError};
use crate::redact::Redactor;
use crate::result::{CaseResult, Finding, Level, RunResult, RunStats, Verdict};
use crate::template::Bindings;
use crate::verdict::{self, Observed};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why a run could not start. Once it has, whatever the target does becomes a verdict,
/// never an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The profile refuses its own target (a host it does not list).
    #[error(transparent)]
    Target(#[from] ProfileError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("target {target} is unreachable")]
    Unreachable {
        target: String,
        source: std::io::Error,
    },
    #[error("target {target} did not accept a connection within {timeout_ms} ms")]
    ConnectTimeout { target: String, timeout_ms: u128 },
}

/// What the run reports while it goes.
pub enum Progress<'a> {
    /// A case finished; `done` of `total`.
    CaseDone {
        done: usize,
        total: usize,
        result: &'a CaseResult,
    },
    /// The run is revoking the tokens it was issued.
    Revoking { tokens: usize },
    /// Revocation finished.
    Revoked { revoked: u64, failed: u64 },
}

pub type ProgressFn = Arc<dyn Fn(Progress<'_>) + Send + Sync>;
/// Receives (case id, raw value) for every sensitive value a case saw; tests use it to
/// prove none leaked into that case's result.
pub type SensitiveFn = Arc<dyn Fn(&str, &str) + Send + Sync>;

#[derive(Clone)]
pub struct RunOptions {
    /// Cases in flight at once.
    pub concurrency: usize,
    pub progress: Option<ProgressFn>,
    /// Revoke every token issued during the run when it ends (on by default).
    pub revoke: bool,
    /// Run destructive cases even if the profile does not allow them (an explicit
    /// request such as `--ignored`); capability skips still apply.
    pub force_destructive: bool,
    pub sensitive_sink: Option<SensitiveFn>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            concurrency: 32,
            progress: None,
            revoke: true,
            force_destructive: false,
            sensitive_sink: None,
        }
    }
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("concurrency", &self.concurrency)
            .field("revoke", &self.revoke)
            .field("force_destructive", &self.force_destructive)
            .finish_non_exhaustive()
    }
}

/// Runs `cases` against the profile's target. Fails only when the run cannot start (the
/// target host is not allowed, the HTTP client cannot be built); everything the target
/// does becomes a verdict.
pub async fn run(
    cases: &[Arc<Case>],
    profile: &Profile,
    options: &RunOptions,
) -> Result<RunResult, RunError> {
    profile.check_target()?;
    let started_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let t0 = Instant::now();
    let mut profile = profile.clone();
    if options.force_destructive {
        profile.allow_destructive = true;
    }
    let engine = Arc::new(Engine::new(Arc::new(profile.clone()))?);
    let total = cases.len();
    let sem = Arc::new(tokio::sync::Semaphore::new(options.concurrency.max(1)));
    let mut set = tokio::task::JoinSet::new();
    // The run lasts at least as long as its longest case, so the cases with the most
    // sequential requests start first and overlap with everything else.
    let mut order: Vec<usize> = (0..cases.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(cases[i].weight()));
    let exclusive = Arc::new(tokio::sync::Mutex::new(()));
    for i in order {
        let case = &cases[i];
        let case = Arc::clone(case);
        let engine = Arc::clone(&engine);
        let sem = Arc::clone(&sem);
        let exclusive = Arc::clone(&exclusive);
        let sink = options.sensitive_sink.clone();
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            let _held = if changes_shared_state(&case) {
                Some(exclusive.lock().await)
            } else {
                None
            };
            (i, run_case(&engine, &case, sink.as_ref()).await)
        });
    }
    let mut results: Vec<Option<CaseResult>> = vec![None; total];
    let mut done = 0;
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, r)) => {
                done += 1;
                if let Some(p) = &options.progress {
                    p(Progress::CaseDone {
                        done,
                        total,
                        result: &r,
                    });
                }
                results[i] = Some(r);
            }
            Err(e) => tracing::error!("a case task ended abnormally: {e}"),
        }
    }
    let cases_out: Vec<CaseResult> = results
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.unwrap_or_else(|| crashed(&cases[i])))
        .collect();
    if options.revoke {
        let n = engine.minted.lock().expect("minted lock").len();
        if n > 0 {
            if let Some(p) = &options.progress {
                p(Progress::Revoking { tokens: n });
            }
            let (revoked, failed) = engine.revoke_minted().await;
            if let Some(p) = &options.progress {
                p(Progress::Revoked { revoked, failed });
            }
        }
    }
    let wall = t0.elapsed();
    let requests = engine.requests.load(Ordering::Relaxed);
    let stats = RunStats {
        requests,
        wall_ms: wall.as_secs_f64() * 1000.0,
        requests_per_second: if wall.as_secs_f64() > 0.0 {
            requests as f64 / wall.as_secs_f64()
        } else {
            0.0
        },
        peak_rss_bytes: peak_rss_bytes(),
    };
    Ok(RunResult {
        target: profile.base().to_string(),
        profile: profile.name.clone(),
        started_at,
        stats,
        cases: cases_out,
    })
}

/// Capabilities a case changes on the target and puts back (the suspendable user is
/// disabled and re-enabled): two such cases at once would see each other's changes, so
/// they run one at a time while every other case runs beside them.
const CHANGED_BY_CASES: &[&str] = &["user.suspendable"];

fn changes_shared_state(case: &Case) -> bool {
    case.required_capabilities()
        .iter()
        .any(|c| CHANGED_BY_CASES.contains(&c.as_str()))
}

/// Peak resident set of this process (Linux `VmHWM`).
pub fn peak_rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Checks that the target answers at all, so the CLI can exit 2 before running
/// anything against an unreachable target.
pub async fn preflight(profile: &Profile) -> Result<(), RunError> {
    profile.check_target()?;
    let host = profile
        .base_url
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = profile.base_url.port_or_known_default().unwrap_or(443);
    match tokio::time::timeout(
        profile.request_timeout,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(source)) => Err(RunError::Unreachable {
            target: profile.base().to_string(),
            source,
        }),
        Err(_) => Err(RunError::ConnectTimeout {
            target: profile.base().to_string(),
            timeout_ms: profile.request_timeout.as_millis(),
        }),
    }
}

fn crashed(case: &Case) -> CaseResult {
    CaseResult {
        id: case.id.clone(),
        title: case.title.clone(),
        level: case.level,
        endpoint: case.endpoint(),
        refs: case.refs.clone(),
        verdict: Verdict::Error,
        reason: Some("the harness task running this case ended abnormally".into()),
        findings: Vec::new(),
        records: BTreeMap::new(),
        choices: Vec::new(),
        transcript: Vec::new(),
        requests: 0,
        duration_ms: 0.0,
    }
}

/// Everything a case accumulates, kept outside the timed future so a timeout still
/// leaves the transcript so far.
struct CaseState {
    trace: Trace,
    findings: Vec<Finding>,
    records: Vec<(String, String, Value)>,
    /// Which of several permitted answers each step got.
    choices: Vec<String>,
    /// Captured values to redact even where no field name marks them.
    captured: Vec<(String, String)>,
    error: Option<String>,
}

/// The invariants (see [`crate::invariants`]) the case's exchanges broke, each named once,
/// with the step that broke it first.
fn broken_invariants(trace: &Trace, profile: &Profile) -> Vec<(String, crate::invariants::Broken)> {
    let secrets = profile.secrets();
    let mut out: Vec<(String, crate::invariants::Broken)> = Vec::new();
    for ex in &trace.exchanges {
        for b in crate::invariants::check_exchange(ex, profile.base_url.path(), &secrets) {
            if !out.iter().any(|(_, o)| o.name == b.name) {
                out.push((ex.step.clone(), b));
            }
        }
    }
    out
}

/// Runs one case to a redacted result.
pub async fn run_case(engine: &Arc<Engine>, case: &Case, sink: Option<&SensitiveFn>) -> CaseResult {
    let t0 = Instant::now();
    let profile = Arc::clone(&engine.profile);
    let mut redactor = Redactor::for_profile(&profile);
    let level = case.level_for(&engine.profile);
    let mut result = CaseResult {
        id: case.id.clone(),
        title: case.title.clone(),
        level,
        endpoint: case.endpoint(),
        refs: case.refs.clone(),
        verdict: Verdict::Skip,
        reason: None,
        findings: Vec::new(),
        records: BTreeMap::new(),
        choices: Vec::new(),
        transcript: Vec::new(),
        requests: 0,
        duration_ms: 0.0,
    };
    if let Some(why) = skip_reason(case, &profile) {
        result.reason = Some(why);
        return result;
    }
    if !engine.budget_left() {
        result.reason = Some("the run's request budget was spent before this case started".into());
        return result;
    }
    let mut st = CaseState {
        trace: Trace::default(),
        findings: Vec::new(),
        records: Vec::new(),
        choices: Vec::new(),
        captured: Vec::new(),
        error: None,
    };
    // Waiting out a lifetime is part of the case, not time its requests took.
    let waits = case.wait_seconds(&profile).unwrap_or(0);
    let timeout = profile.case_timeout + Duration::from_secs(waits);
    let outcome = tokio::time::timeout(
        timeout,
        steps(engine, case, &profile, &mut redactor, &mut st),
    )
    .await;
    if outcome.is_err() {
        st.error = Some(format!(
            "the case did not finish within {} ms (case timeout)",
            timeout.as_millis()
        ));
    }
    result.verdict = match &st.error {
        Some(_) => Verdict::Error,
        None => verdict::verdict_for(level, &st.findings),
    };
    let broken = broken_invariants(&st.trace, &profile);
    result.requests = st.trace.sent;
    result.transcript = crate::result::fold_repeats(crate::redact::transcript(
        &mut redactor,
        &profile,
        &st.trace.exchanges,
        &st.captured,
    ));
    for f in &mut st.findings {
        f.expected = redactor.text(&f.expected);
        f.actual = shorten(&f.expected, &redactor.text_and_body(&f.actual));
        f.at = f.at.as_deref().map(|p| case.location(p));
    }
    result.reason = match &st.error {
        Some(e) => Some(e.clone()),
        None => verdict::reason_for(&st.findings),
    };
    result.findings = st.findings;
    result.choices = st.choices.iter().map(|c| redactor.text(c)).collect();
    if let Some((step, first)) = broken.first() {
        // Whatever the case's level, a broken invariant is a MUST failure of the case that
        // provoked it; the first one is the reason, each one a finding.
        result.level = Level::Must;
        result.verdict = Verdict::Fail;
        result.reason = Some(format!(
            "invariant {} ({}) at {step}: {}",
            first.name,
            first.clause,
            redactor.text(&first.detail)
        ));
        for (step, b) in &broken {
            result.findings.push(Finding {
                step: redactor.text(step),
                expected: format!("invariant {} ({})", b.name, b.clause),
                actual: redactor.text(&b.detail),
                at: None,
            });
        }
    }
    if broken.is_empty() && level != case.level {
        // A Qlik-fidelity case under a profile that did not ask for it: what differs from
        // the real service is the target's choice, and the report says so.
        let differs = !result.findings.is_empty();
        result.reason = Some(match result.reason.take() {
            Some(r) => format!("the target chose otherwise than the real service (recorded, not judged: the profile's fidelity is rfc): {r}"),
            None => "the target chose as the real service does".into(),
        });
        result.choices.push(if differs {
            "otherwise than the real service".into()
        } else {
            "as the real service".into()
        });
    }
    for (step, key, v) in st.records {
        let name = if case.steps.len() > 1 {
            format!("{step} {key}")
        } else {
            key.clone()
        };
        let v = if key.starts_with('/') {
            redactor.json_at(&key, &v)
        } else {
            redact_record(&mut redactor, &key, &v)
        };
        result.records.insert(name, v);
    }
    result.reason = result.reason.map(|r| redactor.text(&r));
    if let Some(sink) = sink {
        for v in redactor.values() {
            sink(&case.id, v);
        }
    }
    result.duration_ms = t0.elapsed().as_secs_f64() * 1000.0;
    result
}

/// Longest `actual` a finding keeps.
const MAX_ACTUAL: usize = 240;

/// Cuts a redacted `actual` to a readable length; for `contains`-style expectations the
/// part around the needle is kept, since that is what a person needs to see.
fn shorten(expected: &str, actual: &str) -> String {
    if actual.len() <= MAX_ACTUAL {
        return actual.to_string();
    }
    let needle = expected
        .split_once("contains \"")
        .and_then(|(_, r)| r.strip_suffix('"'))
        .filter(|n| !n.is_empty());
    let at = needle.and_then(|n| {
        actual
            .find(n)
            .or_else(|| actual.find(&n.replace('"', "\\\"")))
    });
    let (mut start, mut end) = match at {
        Some(at) => (at.saturating_sub(80), (at + 160).min(actual.len())),
        None => (0, MAX_ACTUAL),
    };
    while !actual.is_char_boundary(start) {
        start -= 1;
    }
    while !actual.is_char_boundary(end) {
        end += 1;
    }
    format!(
        "{}{}{}",
        if start > 0 { "..." } else { "" },
        &actual[start..end],
        if end < actual.len() { "..." } else { "" }
    )
}

fn redact_record(r: &mut Redactor, key: &str, v: &Value) -> Value {
    match v {
        Value::String(s) => {
            let name = key
                .split_once(':')
                .map_or("", |(_, n)| n)
                .to_ascii_lowercase();
            if key.starts_with("location:")
                && crate::redact::SENSITIVE_FIELDS.contains(&name.as_str())
            {
                return Value::String(r.register(&name, s));
            }
            if key.starts_with("header:") {
                return r.header(&name, s).map_or(Value::Null, Value::String);
            }
            Value::String(r.text(s))
        }
        other => r.json(other),
    }
}

async fn steps(
    engine: &Arc<Engine>,
    case: &Case,
    profile: &Profile,
    redactor: &mut Redactor,
    st: &mut CaseState,
) {
    let mut b = Bindings::new(profile);
    if let Err(e) = bind_lets(case, &mut b, redactor) {
        st.error = Some(error_chain(&e));
        return;
    }
    let jar = Arc::new(reqwest::cookie::Jar::default());
    // Set when a finding or an error ends the case: later steps build on the earlier ones,
    // so only cleanup steps still run.
    let mut ended = false;
    for (i, step) in case.steps.iter().enumerate() {
        if ended && !step.cleanup {
            continue;
        }
        let label = step.label(i);
        match one_step(engine, profile, (i, step, &label), &mut b, &jar, st).await {
            Ok(true) => {}
            Ok(false) => ended = true,
            Err(e) => {
                // The first error is the case's story; a failed cleanup after it adds none.
                st.error.get_or_insert(e);
                ended = true;
            }
        }
    }
}

/// Runs one step and judges it: `Ok(false)` when its findings end the case, `Err` when it
/// could not be run or judged.
async fn one_step(
    engine: &Arc<Engine>,
    profile: &Profile,
    (i, step, label): (usize, &Step, &str),
    b: &mut Bindings<'_>,
    jar: &Arc<reqwest::cookie::Jar>,
    st: &mut CaseState,
) -> Result<bool, String> {
    if let Some(name) = &step.when {
        if !b.vars.contains_key(name) {
            st.choices.push(format!(
                "{label}: not sent, the target's answer bound no {name}"
            ));
            return Ok(true);
        }
    }
    if let Some(w) = &step.wait {
        // The case would have been skipped had the profile not given the lifetime.
        let secs = w.seconds(profile).unwrap_or(0);
        tokio::time::sleep(Duration::from_secs(secs)).await;
        return Ok(true);
    }
    let obs = run_step(engine, step, label, b, jar, st)
        .await
        .map_err(|e| format!("{label}: {e}"))?;
    let Some((last, statuses)) = obs else {
        return Ok(false);
    };
    let mut findings = Vec::new();
    if let Some(e) = &step.expect {
        let f = verdict::check_expect(label, e, &last, b, &format!("/steps/{i}/expect"))
            .map_err(|e| format!("{label}: {}", error_chain(&e)))?;
        if f.is_empty() {
            st.choices.extend(verdict::choice(label, e, &last, b));
        }
        findings.extend(f);
    }
    if !step.expect_count.is_empty() {
        let f = verdict::check_counts(
            label,
            &step.expect_count,
            &statuses,
            b,
            &format!("/steps/{i}"),
        )
        .map_err(|e| format!("{label}: {}", error_chain(&e)))?;
        findings.extend(f);
    }
    let (caps, cap_findings) = verdict::captures(label, step, &last);
    findings.extend(cap_findings.into_iter().map(|mut f| {
        f.at = f.at.map(|p| format!("/steps/{i}{p}"));
        f
    }));
    for (name, v) in caps {
        if let Value::String(s) = &v {
            if is_secret_capture(&name, step) || s.len() >= 16 {
                st.captured.push((name.clone(), s.clone()));
            }
        }
        b.vars.insert(name, v);
    }
    for (k, v) in verdict::records(step, &last) {
        st.records.push((label.to_string(), k, v));
    }
    let go_on = findings.is_empty();
    st.findings.extend(findings);
    Ok(go_on)
}

/// Whether a captured value is a credential: by the capture's name, or by where it came
/// from (a top-level token field, a Location parameter such as `code`, a cookie).
fn is_secret_capture(name: &str, step: &Step) -> bool {
    use crate::redact::SENSITIVE_FIELDS;
    let n = name.to_ascii_lowercase();
    let by_name = [
        "token",
        "secret",
        "assertion",
        "verifier",
        "cookie",
        "session",
    ]
    .iter()
    .any(|k| n.contains(k))
        || n == "code"
        || n == "state";
    let by_source = match step.capture.get(name) {
        Some(crate::cases::Capture::Json(p)) => {
            let top = p.trim_start_matches('/');
            !top.contains('/') && SENSITIVE_FIELDS.contains(&top)
        }
        Some(crate::cases::Capture::LocationQuery(q)) => SENSITIVE_FIELDS.contains(&q.as_str()),
        Some(crate::cases::Capture::Header(h)) => {
            let h = h.to_ascii_lowercase();
            h == "set-cookie" || h == "authorization"
        }
        _ => false,
    };
    by_name || by_source
}

/// Sends a step; returns the response expectations judge (the last) and every status.
async fn run_step(
    engine: &Arc<Engine>,
    step: &Step,
    label: &str,
    b: &Bindings<'_>,
    jar: &Arc<reqwest::cookie::Jar>,
    st: &mut CaseState,
) -> Result<Option<(Observed, Vec<u16>)>, String> {
    if let Some(login) = &step.login {
        let (prep, redirect_uri) = prepare_login(login, b).map_err(|e| error_chain(&e))?;
        let r = engine
            .login(label, prep, &redirect_uri, jar, &mut st.trace)
            .await;
        return match r {
            Ok(o) => {
                let s = o.status;
                Ok(Some((o, vec![s])))
            }
            Err(e) => Err(e.to_string()),
        };
    }
    let Some(req) = &step.request else {
        return Err("neither request nor login".into());
    };
    let prep = prepare_request(req, b).map_err(|e| error_chain(&e))?;
    let expects_429 = step
        .expect
        .as_ref()
        .and_then(|e| e.status.as_ref())
        .is_some_and(|s| s.contains(429))
        || step.expect_count.contains_key("429");
    let times = step.repeat.unwrap_or(1).max(1);
    if req.follow_redirects {
        let mut last = None;
        let mut statuses = Vec::new();
        for _ in 0..times {
            let o = engine
                .follow(label, prep.clone(), jar, None, &[], &mut st.trace)
                .await
                .map_err(|e| e.to_string())?;
            statuses.push(o.status);
            last = Some(o);
        }
        return Ok(last.map(|l| (l, statuses)));
    }
    let outcomes: Vec<(Prepared, Duration, u32, Result<Observed, Transport>)> =
        if step.concurrent && times > 1 {
            let mut set = tokio::task::JoinSet::new();
            let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
            for i in 0..times {
                let engine = Arc::clone(engine);
                let jar = Arc::clone(jar);
                let prep = prep.clone();
                let in_flight = Arc::clone(&in_flight);
                set.spawn(async move {
                    // Never closed, so acquiring cannot fail.
                    let _permit = in_flight.acquire_owned().await.ok();
                    let t = Instant::now();
                    let (n, r) = engine.send(&prep, &jar, !expects_429).await;
                    (i, prep, t.elapsed(), n, r)
                });
            }
            let mut all = Vec::new();
            while let Some(j) = set.join_next().await {
                all.push(j.map_err(|e| format!("concurrent request task failed: {e}"))?);
            }
            // Arrival order is a race; order by outcome so transcripts are reproducible.
            all.sort_by_key(|(i, _, _, _, r)| (r.as_ref().map(|o| o.status).unwrap_or(0), *i));
            all.into_iter()
                .map(|(_, p, d, n, r)| (p, d, n, r))
                .collect()
        } else {
            let mut all = Vec::new();
            for _ in 0..times {
                let t = Instant::now();
                let (n, r) = engine.send(&prep, jar, !expects_429).await;
                let failed = r.is_err();
                all.push((prep.clone(), t.elapsed(), n, r));
                if failed {
                    break;
                }
            }
            all
        };
    let mut statuses = Vec::new();
    let mut last = None;
    let mut first_error = None;
    // Racing requests finish in any order and the losers' answers may differ in wording;
    // the label lets snapshots keep only what a race cannot change.
    let label = if step.concurrent && times > 1 {
        format!("{label} {CONCURRENT_MARK}")
    } else {
        label.to_string()
    };
    for (p, d, n, r) in outcomes {
        st.trace.sent += n;
        st.trace.exchanges.push(RawExchange {
            step: label.clone(),
            request: p,
            response: r.as_ref().ok().cloned(),
            error: r.as_ref().err().cloned(),
            elapsed: d,
        });
        match r {
            Ok(o) => {
                statuses.push(o.status);
                if o.status / 100 == 2 {
                    engine.note_minted(&o);
                }
                last = Some(o);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e.to_string());
    }
    Ok(last.map(|l| (l, statuses)))
}

/// Requests of one concurrent step in flight at once: enough for every race a case sets
/// up, few enough that a burst of a thousand is not a thousand connections to a tenant.
const MAX_IN_FLIGHT: usize = 50;

/// Marks transcript entries of a concurrent step.
const CONCURRENT_MARK: &str = "[concurrent]";

/// The part of a case result that must not change between runs: no timings, and of
/// racing requests only statuses and headers (which of them wins, and how the losers
/// word their refusal, is the race's to decide; `expect_count` judges the outcome).
pub fn snapshot(result: &CaseResult) -> Value {
    let mut transcript = result.transcript.clone();
    for ex in &mut transcript {
        ex.elapsed_ms = None;
        if ex.step.ends_with(CONCURRENT_MARK) {
            if let Some(r) = &mut ex.response {
                r.body = None;
            }
        }
    }
    // Without their bodies, a race's answers of one status are one entry, however the
    // race went.
    let transcript = crate::result::fold_repeats(transcript);
    // A finding's line moves with every edit above it in the case file; what it found
    // does not.
    let findings: Vec<crate::result::Finding> = result
        .findings
        .iter()
        .cloned()
        .map(|mut f| {
            f.at = None;
            f
        })
        .collect();
    serde_json::json!({
        "id": result.id,
        "level": result.level,
        "verdict": result.verdict,
        "reason": result.reason,
        "findings": findings,
        "records": result.records,
        "transcript": transcript,
    })
}
