//! The detection matrix: how many deliberate rule breaks the conformance catalogue and the
//! properties catch, and that the correct reference trips none of them.
//!
//! For every fault of [`qoauth_reference::Fault::ALL`] a reference server is started in
//! process with that one fault on and the whole case catalogue runs against it; another
//! server with the same fault gets the properties (all but the differential one, which
//! compares with the reference itself and so would measure the fault, not the suite), with
//! a fixed seed and a modest number of generated cases each, so the matrix is reproducible
//! and quick. Each run has a server of its own, so what one run leaves behind (used codes,
//! spent budgets) cannot change another's outcome. Destructive cases (which spend rate-limit
//! budgets) and cases that wait out a lifetime run apart, each against a fresh server of
//! its own whose codes and refresh tokens live a second or two. The fault counts as caught when at least
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
//!
//! Running and reporting are kept apart: [`run()`] starts the servers, runs the catalogue
//! and the properties and decides every catch, and gives back a [`Matrix`]; [`render()`]
//! only reads a finished matrix, so the report can be reworded without touching what
//! counts as a catch, and a test can render a matrix built by hand.

use std::time::Duration;

use qoauth_harness::result::{Level, Verdict};
use qoauth_reference::Fault;

mod clauses;
mod error;
pub mod latitude;
mod render;
mod run;

pub use error::DetectError;
pub use render::render;
pub use run::run;

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
    pub(crate) fn per_property_on_rule(&self) -> Vec<(&PropertyInfo, usize, usize)> {
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

#[cfg(test)]
pub(crate) mod tests {
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

    /// Five faults: caught by a case off rule, by a property on rule, by a case on rule and
    /// properties, by nothing, and by a property off rule.
    pub(crate) fn sample() -> Matrix {
        Matrix {
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
        }
    }

    #[test]
    fn totals_count_cases_properties_either_and_on_rule() {
        let m = sample();
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
    }
}
