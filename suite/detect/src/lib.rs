//! The detection matrix: how many deliberate rule breaks the conformance catalogue catches,
//! and that the correct reference trips none of its cases.
//!
//! For every fault of [`qoauth_reference::Fault::ALL`] a reference server is started in
//! process with that one fault on, the whole case catalogue runs against it, and the fault
//! counts as caught when at least one MUST or SHOULD case fails or warns. Timeouts are
//! what a slow or hanging endpoint looks like from a client, so for those two faults an
//! error verdict counts too, but only when its reason names the timeout. The clean
//! reference runs the same way and must give no fail, warn or error at all.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use qoauth_harness::result::{CaseResult, Level, Verdict};
use qoauth_harness::{Case, Catalogue, Profile, RunOptions};
use qoauth_reference::{Fault, Faults, Fixture, Tls};

/// How a matrix run is bounded.
#[derive(Debug, Clone)]
pub struct MatrixOptions {
    /// Faulty servers (each with its own catalogue run) at once.
    pub parallel_faults: usize,
    /// Cases in flight at once within one run.
    pub case_concurrency: usize,
    /// Per-request timeout of the runs whose fault is a slow or hanging endpoint: they are
    /// caught by it, so it is short, though well above what the in-process reference needs.
    pub request_timeout: Duration,
    /// Per-request timeout of every other run (and the clean one): long, so a loaded
    /// machine cannot turn a slow answer into an error and hide a fault.
    pub patient_timeout: Duration,
    /// Faults to run; all of them when empty.
    pub only: Vec<Fault>,
}

impl Default for MatrixOptions {
    fn default() -> Self {
        MatrixOptions {
            parallel_faults: 8,
            case_concurrency: 32,
            request_timeout: Duration::from_millis(1500),
            patient_timeout: Duration::from_secs(10),
            only: Vec::new(),
        }
    }
}

/// What one fault's run showed.
#[derive(Debug, Clone)]
pub struct FaultRow {
    pub fault: Fault,
    /// Ids of the MUST/SHOULD cases that caught it, sorted.
    pub caught_by: Vec<String>,
    /// How long its run took (for the command's summary, never for the report).
    pub elapsed: Duration,
}

impl FaultRow {
    pub fn caught(&self) -> bool {
        !self.caught_by.is_empty()
    }
}

/// A clean-reference case that did not pass (a false positive of the catalogue).
#[derive(Debug, Clone)]
pub struct FalsePositive {
    pub case_id: String,
    pub verdict: Verdict,
    pub reason: String,
}

/// The whole matrix.
#[derive(Debug, Clone)]
pub struct Matrix {
    pub cases: usize,
    pub rows: Vec<FaultRow>,
    pub false_positives: Vec<FalsePositive>,
}

impl Matrix {
    pub fn caught(&self) -> usize {
        self.rows.iter().filter(|r| r.caught()).count()
    }

    pub fn missed(&self) -> Vec<Fault> {
        self.rows
            .iter()
            .filter(|r| !r.caught())
            .map(|r| r.fault)
            .collect()
    }
}

/// The faults whose symptom is a client-side timeout.
fn caught_by_timeout(f: Fault) -> bool {
    matches!(f, Fault::SlowToken | Fault::HangingRevoke)
}

fn names_timeout(reason: Option<&str>) -> bool {
    reason.is_some_and(|r| {
        let r = r.to_ascii_lowercase();
        r.contains("timed out") || r.contains("timeout")
    })
}

/// Whether one case result catches `fault` (`None`: the clean reference).
fn catches(fault: Fault, r: &CaseResult) -> bool {
    if !matches!(r.level, Level::Must | Level::Should) {
        return false;
    }
    match r.verdict {
        Verdict::Fail | Verdict::Warn => true,
        Verdict::Error => caught_by_timeout(fault) && names_timeout(r.reason.as_deref()),
        Verdict::Pass | Verdict::Skip | Verdict::Info => false,
    }
}

/// The reference's profile with a request timeout.
fn profile(timeout: Duration) -> anyhow::Result<Profile> {
    let mut p = qoauth_harness::profile::reference_profile()?;
    p.request_timeout = timeout;
    // A case of several steps against a hanging endpoint must still end on its own.
    p.case_timeout = timeout * 4;
    // Destructive cases exhaust budgets shared by the whole run (rate limits), so their
    // outcome would depend on what else ran; the matrix leaves them to explicit runs.
    p.allow_destructive = false;
    Ok(p)
}

/// Runs the catalogue once against a reference with `faults`.
async fn run_against(
    cases: &[Arc<Case>],
    profile: &Profile,
    faults: Faults,
    opts: &MatrixOptions,
) -> anyhow::Result<Vec<CaseResult>> {
    let addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let server =
        qoauth_reference::spawn_faulty(Fixture::default_fixture(), addr, Tls::None, faults).await?;
    let profile = profile.clone().with_base_url(&server.base_url)?;
    let options = RunOptions {
        concurrency: opts.case_concurrency,
        // The server is thrown away after the run; revoking against a hanging revocation
        // endpoint would only wait out more timeouts.
        revoke: false,
        ..RunOptions::default()
    };
    let result = qoauth_harness::run(cases, &profile, &options).await;
    // Requests stuck in a hanging handler are cut off by the shutdown's grace period,
    // which is not worth waiting for.
    tokio::spawn(server.shutdown());
    Ok(result?.cases)
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

/// Runs the clean reference and every fault, `parallel_faults` at a time.
pub async fn run(catalogue: &Catalogue, opts: &MatrixOptions) -> anyhow::Result<Matrix> {
    quiet_fault_panics();
    let cases: Arc<Vec<Arc<Case>>> = Arc::new(catalogue.cases.clone());
    // MAY and INFO cases are recorded, never judged, so they cannot catch a fault; the
    // faulty runs leave them out (the clean run keeps them: they must not error either).
    let judged: Arc<Vec<Arc<Case>>> = Arc::new(
        catalogue
            .cases
            .iter()
            .filter(|c| matches!(c.level, Level::Must | Level::Should))
            .cloned()
            .collect(),
    );
    let patient = Arc::new(profile(opts.patient_timeout)?);
    let impatient = Arc::new(profile(opts.request_timeout)?);
    let opts = Arc::new(opts.clone());
    let faults: Vec<Fault> = if opts.only.is_empty() {
        Fault::ALL.to_vec()
    } else {
        opts.only.clone()
    };

    let clean = {
        let (cases, profile, opts) = (Arc::clone(&cases), Arc::clone(&patient), Arc::clone(&opts));
        tokio::spawn(async move { run_against(&cases, &profile, Faults::default(), &opts).await })
    };
    let sem = Arc::new(tokio::sync::Semaphore::new(opts.parallel_faults.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for fault in faults {
        let profile = if caught_by_timeout(fault) {
            &impatient
        } else {
            &patient
        };
        let (cases, profile, opts, sem) = (
            Arc::clone(&judged),
            Arc::clone(profile),
            Arc::clone(&opts),
            Arc::clone(&sem),
        );
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            let t0 = std::time::Instant::now();
            let results = run_against(&cases, &profile, Faults::of([fault]), &opts).await?;
            let caught_by: BTreeSet<String> = results
                .iter()
                .filter(|r| catches(fault, r))
                .map(|r| r.id.clone())
                .collect();
            anyhow::Ok(FaultRow {
                fault,
                caught_by: caught_by.into_iter().collect(),
                elapsed: t0.elapsed(),
            })
        });
    }
    let mut rows = Vec::new();
    while let Some(joined) = set.join_next().await {
        rows.push(joined??);
    }
    let false_positives = clean
        .await??
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::Warn | Verdict::Error))
        .map(|r| FalsePositive {
            case_id: r.id.clone(),
            verdict: r.verdict,
            reason: r.reason.clone().unwrap_or_default(),
        })
        .collect();
    rows.sort_by_key(|r| r.fault);
    Ok(Matrix {
        cases: cases.len(),
        rows,
        false_positives,
    })
}

/// `reports/detection.md`: fault, rule, reference and catching cases, then totals. Holds
/// no timings, so a rerun on any machine writes the same file.
pub fn render(m: &Matrix) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let total = m.rows.len();
    let _ = writeln!(out, "# Detection matrix\n");
    let _ = writeln!(
        out,
        "Generated by `cargo run -p qoauth --features faults -- detect --write reports/detection.md`;\n\
         checked by `cargo test -p qoauth-detect`. Each fault of the reference's catalogue\n\
         (`suite/reference/src/faults.rs`, cargo feature `faults`) breaks one rule; the whole case\n\
         catalogue ({} cases; the MAY and INFO ones, which are never judged, only on the clean run)\n\
         runs against a reference with that one fault on. A fault is caught when\n\
         at least one MUST or SHOULD case fails or warns (for `slow-token` and `hanging-revoke`: errs\n\
         with a timeout). The clean reference must leave every case passing, skipped or recorded.\n",
        m.cases
    );
    let _ = writeln!(out, "## Totals\n");
    let _ = writeln!(out, "| | count |\n|---|---:|");
    let _ = writeln!(out, "| faults | {total} |");
    let _ = writeln!(out, "| caught | {} |", m.caught());
    let _ = writeln!(out, "| missed | {} |", total - m.caught());
    let _ = writeln!(
        out,
        "| false positives on the clean reference | {} |\n",
        m.false_positives.len()
    );
    if !m.false_positives.is_empty() {
        let _ = writeln!(out, "## False positives\n");
        let _ = writeln!(out, "| case | verdict | reason |\n|---|---|---|");
        for fp in &m.false_positives {
            let _ = writeln!(
                out,
                "| `{}` | {:?} | {} |",
                fp.case_id,
                fp.verdict,
                cell(&fp.reason)
            );
        }
        out.push('\n');
    }
    let _ = writeln!(out, "## Faults\n");
    let _ = writeln!(
        out,
        "| fault | kind | rule broken | reference | caught by |\n|---|---|---|---|---|"
    );
    for r in &m.rows {
        let by = if r.caught_by.is_empty() {
            "**not caught**".to_string()
        } else {
            r.caught_by
                .iter()
                .map(|id| format!("`{id}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} ({}) |",
            r.fault.name(),
            r.fault.kind().name(),
            cell(r.fault.rule()),
            cell(r.fault.reference()),
            by,
            r.caught_by.len()
        );
    }
    out
}

/// A table cell: no pipes or line breaks.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
