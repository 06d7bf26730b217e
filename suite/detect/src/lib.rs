//! The detection matrix: how many deliberate rule breaks the conformance catalogue and the
//! properties catch, and that the correct reference trips none of them.
//!
//! For every fault of [`qoauth_reference::Fault::ALL`] a reference server is started in
//! process with that one fault on and the whole case catalogue runs against it; another
//! server with the same fault gets the properties (all but the differential one, which
//! compares with the reference itself and so would measure the fault, not the suite), with
//! a fixed seed and a modest number of generated cases each, so the matrix is reproducible
//! and quick. Each run has a server of its own, so what one run leaves behind (used codes,
//! spent budgets) cannot change another's outcome. The fault counts as caught when at least
//! one MUST or SHOULD case or property fails or warns. Timeouts are what a slow or hanging
//! endpoint looks like from a client, so for those two faults a case's error verdict counts
//! too, but only when its reason names the timeout. The clean reference runs the same way
//! and must give no fail, warn or error at all, and must pass every property.
//!
//! A failure can be a side effect (a fault that refuses form bodies with 415 also breaks
//! every PKCE case that posts a form), so each catch is also judged "on rule": caught by a
//! case or property that names, among its refs, a clause the fault's reference names. The
//! fault's reference ("RFC 6749 4.1.2.1; spec GET /oauth/authorize 400") is parsed into
//! clauses and compared with the catcher's refs: same document, and sections equal or one a
//! prefix of the other at a component boundary (`4.1.2` ~ `4.1.2.1`, never `4.1` ~ `4.10`);
//! spec refs compare by operation then part, notes refs by ambiguity number or chapter and
//! heading; a whole RFC or a whole notes chapter names no rule; a catch that reports a
//! timeout names the harness's request timeout. The module
//! [`clauses`] holds the whole rule.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use qoauth_harness::result::{CaseResult, Level, Verdict};
use qoauth_harness::{Case, Catalogue, Profile, RunOptions};
use qoauth_reference::{Fault, Faults, Fixture, Tls};

mod clauses;
pub mod latitude;

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
    /// Generated cases per property in each property run; 0 leaves the properties out.
    pub property_cases: u32,
    /// The seed of every property run: fixed, so every rerun generates the same requests.
    pub property_seed: u64,
}

/// Enough generated cases for every property to reach the rule it enforces a few
/// times over, few enough that all the faults' property runs add well under a minute.
pub const DEFAULT_PROPERTY_CASES: u32 = 16;

/// Transport failures after which a property of a faulty run gives up (see
/// [`qoauth_props::Options::max_transport_failures`]).
const MAX_TRANSPORT_FAILURES: u32 = 3;

/// The committed report's property seed.
pub const DEFAULT_PROPERTY_SEED: u64 = 6749;

impl Default for MatrixOptions {
    fn default() -> Self {
        MatrixOptions {
            parallel_faults: 8,
            case_concurrency: 32,
            request_timeout: Duration::from_millis(1500),
            patient_timeout: Duration::from_secs(10),
            only: Vec::new(),
            property_cases: DEFAULT_PROPERTY_CASES,
            property_seed: DEFAULT_PROPERTY_SEED,
        }
    }
}

/// A property that failed or warned on a faulty server.
#[derive(Debug, Clone)]
pub struct PropertyCatch {
    /// The property's name (its case id without `property.`).
    pub name: String,
    pub verdict: Verdict,
    /// What the property saw (seed, step, expected, actual).
    pub reason: String,
    /// Whether one of its clauses is one the fault breaks (see [`clauses`]).
    pub on_rule: bool,
}

/// What one fault's runs showed.
#[derive(Debug, Clone)]
pub struct FaultRow {
    pub fault: Fault,
    /// Ids of the MUST/SHOULD cases that caught it, sorted.
    pub caught_by: Vec<String>,
    /// Those of `caught_by` that name a clause the fault breaks (see [`clauses`]), sorted.
    pub caught_on_rule: Vec<String>,
    /// The MUST/SHOULD properties that caught it, sorted by name.
    pub caught_by_properties: Vec<PropertyCatch>,
    /// How long its case run took (for the command's summary, never for the report).
    pub elapsed: Duration,
    /// How long its property run took (likewise).
    pub properties_elapsed: Duration,
}

impl FaultRow {
    pub fn caught(&self) -> bool {
        self.caught_by_cases() || self.caught_by_properties()
    }

    pub fn caught_by_cases(&self) -> bool {
        !self.caught_by.is_empty()
    }

    pub fn caught_by_properties(&self) -> bool {
        !self.caught_by_properties.is_empty()
    }

    /// Caught by a case or property that names a clause the fault breaks.
    pub fn caught_on_rule(&self) -> bool {
        !self.caught_on_rule.is_empty() || self.caught_by_properties.iter().any(|c| c.on_rule)
    }
}

/// A clean-reference case or property that did not pass (a false positive of the suite).
/// Properties count when they do anything but pass: a skipped property judged nothing.
#[derive(Debug, Clone)]
pub struct FalsePositive {
    /// The case id; for a property, `property.<name>`.
    pub case_id: String,
    pub verdict: Verdict,
    pub reason: String,
}

/// A property as the matrix ran it.
#[derive(Debug, Clone)]
pub struct PropertyInfo {
    pub name: String,
    pub level: Level,
    /// The clauses it enforces, as its references name them.
    pub clauses: String,
}

/// The whole matrix.
#[derive(Debug, Clone)]
pub struct Matrix {
    pub cases: usize,
    /// The properties of every run, in catalogue order (empty when they were left out).
    pub properties: Vec<PropertyInfo>,
    pub property_cases: u32,
    pub property_seed: u64,
    pub rows: Vec<FaultRow>,
    pub false_positives: Vec<FalsePositive>,
}

/// The matrix's figures, as the report and the command print them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub faults: usize,
    pub by_cases: usize,
    pub by_properties: usize,
    pub by_either: usize,
    /// Caught by a property and by no case: what the properties add.
    pub properties_only: usize,
    /// Caught by a case and by no property.
    pub cases_only: usize,
    pub missed: usize,
    /// Caught by a case or property naming a clause the fault breaks.
    pub on_rule: usize,
    /// Caught, but only by cases and properties that name other clauses.
    pub off_rule_only: usize,
    pub false_positives: usize,
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

    /// Faults caught only by cases and properties that name other clauses than the ones
    /// the fault breaks: caught by a side effect.
    pub fn off_rule_only(&self) -> Vec<Fault> {
        self.rows
            .iter()
            .filter(|r| r.caught() && !r.caught_on_rule())
            .map(|r| r.fault)
            .collect()
    }

    pub fn totals(&self) -> Totals {
        let count = |f: &dyn Fn(&FaultRow) -> bool| self.rows.iter().filter(|r| f(r)).count();
        Totals {
            faults: self.rows.len(),
            by_cases: count(&|r| r.caught_by_cases()),
            by_properties: count(&|r| r.caught_by_properties()),
            by_either: count(&|r| r.caught()),
            properties_only: count(&|r| r.caught_by_properties() && !r.caught_by_cases()),
            cases_only: count(&|r| r.caught_by_cases() && !r.caught_by_properties()),
            missed: count(&|r| !r.caught()),
            on_rule: count(&|r| r.caught_on_rule()),
            off_rule_only: count(&|r| r.caught() && !r.caught_on_rule()),
            false_positives: self.false_positives.len(),
        }
    }

    /// Faults each property catches, in catalogue order.
    pub fn per_property(&self) -> Vec<(&PropertyInfo, usize)> {
        self.per_property_on_rule()
            .into_iter()
            .map(|(p, n, _)| (p, n))
            .collect()
    }

    /// Faults each property catches, and how many of those on rule, in catalogue order.
    fn per_property_on_rule(&self) -> Vec<(&PropertyInfo, usize, usize)> {
        self.properties
            .iter()
            .map(|p| {
                let catches = |on_rule_only: bool| {
                    self.rows
                        .iter()
                        .filter(|r| {
                            r.caught_by_properties
                                .iter()
                                .any(|c| c.name == p.name && (c.on_rule || !on_rule_only))
                        })
                        .count()
                };
                (p, catches(false), catches(true))
            })
            .collect()
    }
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

/// The reference's profile with a request timeout.
fn profile(timeout: Duration) -> anyhow::Result<Profile> {
    let mut p = qoauth_harness::profile::reference_profile()?;
    p.request_timeout = timeout;
    // A case of several steps against a hanging endpoint must still end on its own.
    p.case_timeout = timeout * 4;
    // Destructive cases exhaust budgets shared by the whole run (rate limits), so their
    // outcome would depend on what else ran; the matrix leaves them to explicit runs.
    p.allow_destructive = false;
    // Against `slow-token` and `hanging-revoke` the run would otherwise take the target for
    // stalled whenever only their slow requests are left in flight, and which cases were
    // still to be sent then would decide the catches.
    p.stall_detection = false;
    Ok(p)
}

async fn spawn(faults: Faults) -> anyhow::Result<qoauth_reference::RunningServer> {
    let addr = SocketAddr::from(([127, 0, 0, 1], 0));
    qoauth_reference::spawn_faulty(Fixture::default_fixture(), addr, Tls::None, faults).await
}

/// Runs the catalogue once against `server`, then shuts it down.
async fn run_against(
    cases: &[Arc<Case>],
    profile: &Profile,
    server: qoauth_reference::RunningServer,
    opts: &MatrixOptions,
) -> anyhow::Result<Vec<CaseResult>> {
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

/// Runs every property once against `server`, then shuts it down. Failing scenarios are
/// written under `out_dir` (the property runner always writes them; these are not worth
/// keeping) rather than into `reports/properties/`.
async fn properties_against(
    profile: &Profile,
    server: qoauth_reference::RunningServer,
    opts: &MatrixOptions,
    out_dir: PathBuf,
) -> anyhow::Result<Vec<CaseResult>> {
    let profile = profile.clone().with_base_url(&server.base_url)?;
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
    .map_err(|e| anyhow::anyhow!("the property run ended abnormally: {e}"))?;
    tokio::spawn(server.shutdown());
    Ok(result?.0.cases)
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
pub async fn run(catalogue: &Catalogue, opts: &MatrixOptions) -> anyhow::Result<Matrix> {
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
    let mut set: tokio::task::JoinSet<anyhow::Result<Outcome>> = tokio::task::JoinSet::new();
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
                let faults = fault.map_or_else(Faults::default, |f| Faults::of([f]));
                let server = spawn(faults).await?;
                let results = match which {
                    Run::Cases => run_against(&cases, &profile, server, &opts).await?,
                    Run::Properties => properties_against(&profile, server, &opts, out_dir).await?,
                };
                anyhow::Ok((fault, which, results, t0.elapsed()))
            });
        }
    }
    let mut outcomes: BTreeMap<(Option<Fault>, Run), (Vec<CaseResult>, Duration)> = BTreeMap::new();
    while let Some(joined) = set.join_next().await {
        let (fault, which, results, elapsed) = joined??;
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
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> anyhow::Result<ScratchDir> {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("qoauth-detect-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
        Ok(ScratchDir(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `reports/detection.md`: totals, per-property counts, the faults caught only off rule,
/// then every fault with its rule, reference, catching cases and catching properties (those
/// on rule in bold). Holds no timings or reasons (which name scratch paths), so a rerun on
/// any machine writes the same file.
pub fn render(m: &Matrix) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let t = m.totals();
    let _ = writeln!(out, "# Detection matrix\n");
    let _ = writeln!(
        out,
        "Generated by `cargo run -p qoauth --features faults -- detect --write reports/detection.md`;\n\
         checked by `cargo test -p qoauth-detect`. Each fault of the reference's catalogue\n\
         (`suite/reference/src/faults.rs`, cargo feature `faults`) breaks one rule. For each, the\n\
         case catalogue ({} cases; a MAY or INFO case catches through the invariants every\n\
         response meets: no 5xx, a listed status, a readable error body) runs against a reference\n\
         with that one fault on, and the {} properties (all but the\n\
         differential one, which compares with the reference itself) run against another ({}\n\
         generated cases each, seed {}, no shrinking). A fault is caught when at least\n\
         one MUST or SHOULD case or property fails or warns (a broken invariant fails a case as a\n\
         MUST, whatever its level; a case of `slow-token` or `hanging-revoke` also counts when it\n\
         errs with a timeout). The clean reference must leave every\n\
         case passing, skipped or recorded, and pass every property.\n",
        m.cases,
        m.properties.len(),
        m.property_cases,
        m.property_seed
    );
    let _ = writeln!(
        out,
        "A catch is **on rule** (bold below) when the catching case or property names the broken\n\
         rule: one of its refs shares the document with a clause of the fault's reference, and\n\
         the sections are equal or one is a prefix of the other at a component boundary\n\
         (RFC 6749 `4.1.2` ~ `4.1.2.1`, never `4.1` ~ `4.10`). The reference is split at `;` and `,` (a bare section number\n\
         continues the document before it) and parenthesised commentary is dropped. `spec`\n\
         refs compare by operation, then the part named (`POST /oauth/token` ~ `POST /oauth/token\n\
         400`; a part without its operation, such as `requestBody`, stands for that part of any\n\
         operation), schemas by name (a grant-type URN stands for its request schema). `notes`\n\
         refs compare by ambiguity number (`ambiguity 5` ~ `Ambiguities 5`) or by chapter, then\n\
         heading (`2. Errors`). A clause naming a whole RFC (`RFC 6750`) or a whole notes chapter\n\
         (`notes section 2`, a list of unrelated rules) names no rule and matches nothing. A\n\
         catch whose reason reports a request timing out names `harness request timeout`. Other catches are side effects of\n\
         the fault (off rule).\n"
    );
    let _ = writeln!(out, "## Totals\n");
    let _ = writeln!(out, "| | count |\n|---|---:|");
    let _ = writeln!(out, "| faults | {} |", t.faults);
    let _ = writeln!(out, "| caught by cases | {} |", t.by_cases);
    let _ = writeln!(out, "| caught by properties | {} |", t.by_properties);
    let _ = writeln!(out, "| caught by either | {} |", t.by_either);
    let _ = writeln!(out, "| caught only by properties | {} |", t.properties_only);
    let _ = writeln!(out, "| caught only by cases | {} |", t.cases_only);
    let _ = writeln!(out, "| caught on rule | {} |", t.on_rule);
    let _ = writeln!(out, "| caught only off rule | {} |", t.off_rule_only);
    let _ = writeln!(out, "| missed | {} |", t.missed);
    let _ = writeln!(
        out,
        "| false positives on the clean reference (cases and properties) | {} |\n",
        t.false_positives
    );
    if !m.false_positives.is_empty() {
        let _ = writeln!(out, "## False positives\n");
        let _ = writeln!(
            out,
            "| case or property | verdict | reason |\n|---|---|---|"
        );
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
    let off: Vec<&FaultRow> = m
        .rows
        .iter()
        .filter(|r| r.caught() && !r.caught_on_rule())
        .collect();
    if !off.is_empty() {
        let _ = writeln!(out, "## Caught only off rule\n");
        let _ = writeln!(
            out,
            "No case or property naming these faults' clauses catches them; they are caught only\n\
             as a side effect.\n"
        );
        let _ = writeln!(out, "| fault | reference | clauses read |\n|---|---|---|");
        for r in off {
            let read: Vec<String> = clauses::parse_reference(r.fault.reference())
                .iter()
                .map(ToString::to_string)
                .collect();
            let _ = writeln!(
                out,
                "| `{}` | {} | {} |",
                r.fault.name(),
                cell(r.fault.reference()),
                cell(&read.join("; "))
            );
        }
        out.push('\n');
    }
    if !m.properties.is_empty() {
        let _ = writeln!(out, "## Properties\n");
        let _ = writeln!(
            out,
            "| property | level | clauses | faults caught | on rule |\n|---|---|---|---:|---:|"
        );
        for (p, n, on) in m.per_property_on_rule() {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {n} | {on} |",
                p.name,
                level_name(p.level),
                cell(&p.clauses)
            );
        }
        out.push('\n');
    }
    let _ = writeln!(out, "## Faults\n");
    let _ = writeln!(
        out,
        "| fault | kind | rule broken | reference | on rule | caught by cases | caught by properties |\n|---|---|---|---|---|---|---|"
    );
    for r in &m.rows {
        let cases = ticked(
            r.caught_by
                .iter()
                .map(|id| (id.as_str(), r.caught_on_rule.contains(id))),
        );
        let props = ticked(
            r.caught_by_properties
                .iter()
                .map(|c| (c.name.as_str(), c.on_rule)),
        );
        let on =
            r.caught_on_rule.len() + r.caught_by_properties.iter().filter(|c| c.on_rule).count();
        let verdict = if r.caught_on_rule() {
            format!("yes ({on})")
        } else if r.caught() {
            "**only off rule**".to_string()
        } else {
            "**not caught**".to_string()
        };
        let (cases, props) = if r.caught() {
            (cases, props)
        } else {
            ("**not caught**".to_string(), "**not caught**".to_string())
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} ({}) | {} ({}) |",
            r.fault.name(),
            r.fault.kind().name(),
            cell(r.fault.rule()),
            cell(r.fault.reference()),
            verdict,
            cases,
            r.caught_by.len(),
            props,
            r.caught_by_properties.len()
        );
    }
    out
}

/// Names in code spans, comma-separated, those on rule in bold; a dash for none.
fn ticked<'a>(names: impl Iterator<Item = (&'a str, bool)>) -> String {
    let v: Vec<String> = names
        .map(|(n, on)| {
            if on {
                format!("**`{n}`**")
            } else {
                format!("`{n}`")
            }
        })
        .collect();
    if v.is_empty() {
        "-".to_string()
    } else {
        v.join(", ")
    }
}

fn level_name(l: Level) -> &'static str {
    match l {
        Level::Must => "MUST",
        Level::Should => "SHOULD",
        Level::May => "MAY",
        Level::Info => "INFO",
    }
}

/// A table cell: no pipes or line breaks.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(fault: Fault, cases: &[&str], props: &[&str]) -> FaultRow {
        FaultRow {
            fault,
            caught_by: cases.iter().map(|s| s.to_string()).collect(),
            caught_on_rule: cases
                .iter()
                .filter(|s| s.ends_with("on_rule"))
                .map(|s| s.to_string())
                .collect(),
            caught_by_properties: props
                .iter()
                .map(|p| PropertyCatch {
                    name: p.to_string(),
                    verdict: Verdict::Fail,
                    reason: "seed 1: request expected x but saw y".into(),
                    on_rule: p.starts_with('a'),
                })
                .collect(),
            elapsed: Duration::from_secs(3),
            properties_elapsed: Duration::from_secs(4),
        }
    }

    fn prop(name: &str) -> PropertyInfo {
        PropertyInfo {
            name: name.into(),
            level: Level::Must,
            clauses: "RFC6749 4.1.2".into(),
        }
    }

    #[test]
    fn totals_count_cases_properties_either_and_on_rule() {
        let m = Matrix {
            cases: 10,
            properties: vec![prop("a_rule"), prop("b_rule")],
            property_cases: 16,
            property_seed: 1,
            rows: vec![
                row(Fault::ALL[0], &["case.one"], &[]),
                row(Fault::ALL[1], &[], &["a_rule"]),
                row(Fault::ALL[2], &["case.two_on_rule"], &["a_rule", "b_rule"]),
                row(Fault::ALL[3], &[], &[]),
                row(Fault::ALL[4], &[], &["b_rule"]),
            ],
            false_positives: Vec::new(),
        };
        assert_eq!(
            m.totals(),
            Totals {
                faults: 5,
                by_cases: 2,
                by_properties: 3,
                by_either: 4,
                properties_only: 2,
                cases_only: 1,
                missed: 1,
                on_rule: 2,
                off_rule_only: 2,
                false_positives: 0,
            }
        );
        let per: Vec<(&str, usize)> = m
            .per_property()
            .into_iter()
            .map(|(p, n)| (p.name.as_str(), n))
            .collect();
        assert_eq!(per, vec![("a_rule", 2), ("b_rule", 2)]);
        assert_eq!(m.missed(), vec![Fault::ALL[3]]);
        assert_eq!(m.off_rule_only(), vec![Fault::ALL[0], Fault::ALL[4]]);

        let report = render(&m);
        assert!(
            report.contains("| caught only by properties | 2 |"),
            "{report}"
        );
        assert!(report.contains("| caught on rule | 2 |"), "{report}");
        assert!(report.contains("| caught only off rule | 2 |"), "{report}");
        assert!(
            report.contains("| `a_rule` | MUST | RFC6749 4.1.2 | 2 | 2 |"),
            "{report}"
        );
        assert!(
            report.contains("| `b_rule` | MUST | RFC6749 4.1.2 | 2 | 0 |"),
            "{report}"
        );
        assert!(report.contains("**`case.two_on_rule`**"), "{report}");
        assert!(!report.contains("**`case.one`**"), "{report}");
        let off = &report[report.find("## Caught only off rule").expect("listed")..];
        let off = &off[..off.find("## Properties").expect("then the properties")];
        assert!(off.contains(Fault::ALL[0].name()), "{off}");
        assert!(off.contains(Fault::ALL[4].name()), "{off}");
        assert!(!off.contains(Fault::ALL[1].name()), "{off}");
        assert!(report.contains("**only off rule**"), "{report}");
        assert!(report.contains("**not caught**"), "{report}");
        // Reasons name scratch paths and timings vary: neither belongs in the report.
        assert!(!report.contains("saw y"), "{report}");
        assert!(!report.contains("3.0"), "{report}");
    }
}
