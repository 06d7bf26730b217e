//! Baselines and the CI gate.
//!
//! A baseline lets a team adopt the suite on a server that does not conform yet: it lists the
//! failures they accept, each with a reason and optionally an expiry date. The gate keeps the
//! list honest in both directions: a failure outside it fails the gate, and so does an entry
//! that has expired or whose case no longer fails, so the baseline can only shrink.

use crate::error::{BaselineError, ReportError};
use qoauth_harness::result::{CaseResult, Level, RunResult, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use time::Date;

/// The file format, kept separate from [`Baseline`] so dates are validated once, on load.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BaselineFile {
    #[serde(default, rename = "$schema")]
    _schema: Option<String>,
    accepted: Vec<EntryFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryFile {
    id: String,
    reason: String,
    #[serde(default)]
    expires: Option<String>,
}

/// A failure the team has accepted for now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AcceptedFailure {
    pub id: String,
    pub reason: String,
    /// The last day the entry is valid (inclusive), if it ever expires.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_date")]
    pub expires: Option<Date>,
}

fn ser_date<S: serde::Serializer>(d: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&format_date(*d)),
        None => s.serialize_none(),
    }
}

const DATE_FORMAT: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

pub(crate) fn format_date(d: Date) -> String {
    d.format(DATE_FORMAT).unwrap_or_else(|_| d.to_string())
}

/// A loaded, validated baseline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Baseline {
    pub entries: Vec<AcceptedFailure>,
}

impl Baseline {
    /// Parses a baseline, naming the entry and the field of the first problem.
    pub fn parse(text: &str) -> Result<Self, BaselineError> {
        let file: BaselineFile =
            serde_json::from_str(text).map_err(|source| BaselineError::Format { source })?;
        let mut seen = BTreeSet::new();
        let mut entries = Vec::with_capacity(file.accepted.len());
        for (index, e) in file.accepted.into_iter().enumerate() {
            if e.id.trim().is_empty() {
                return Err(BaselineError::EmptyId { index });
            }
            if e.reason.trim().is_empty() {
                return Err(BaselineError::EmptyReason { index, id: e.id });
            }
            if !seen.insert(e.id.clone()) {
                return Err(BaselineError::Duplicate { index, id: e.id });
            }
            let expires = match e.expires {
                None => None,
                Some(value) => match Date::parse(&value, DATE_FORMAT) {
                    Ok(date) => Some(date),
                    Err(source) => {
                        return Err(BaselineError::Expires {
                            index,
                            id: e.id,
                            value,
                            source,
                        })
                    }
                },
            };
            entries.push(AcceptedFailure {
                id: e.id,
                reason: e.reason,
                expires,
            });
        }
        Ok(Self { entries })
    }

    pub fn load(path: &Path) -> Result<Self, ReportError> {
        let text = std::fs::read_to_string(path).map_err(|source| ReportError::ReadBaseline {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|source| ReportError::Baseline {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Why the gate failed; one per offending case or entry, each with its own message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Offence {
    /// A MUST case failed (or could not be checked) and no baseline entry accepts it.
    NewFailure {
        id: String,
        verdict: Verdict,
        reason: Option<String>,
    },
    /// A baseline entry is past its expiry date.
    Expired {
        id: String,
        #[serde(serialize_with = "ser_plain_date")]
        expires: Date,
        reason: String,
        /// The case's verdict in this run, if it ran.
        verdict: Option<Verdict>,
    },
    /// A baseline entry's case no longer fails: the entry must go.
    NowPasses { id: String, verdict: Verdict },
}

fn ser_plain_date<S: serde::Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_date(*d))
}

impl Offence {
    pub fn id(&self) -> &str {
        match self {
            Offence::NewFailure { id, .. }
            | Offence::Expired { id, .. }
            | Offence::NowPasses { id, .. } => id,
        }
    }
}

impl fmt::Display for Offence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Offence::NewFailure {
                id,
                verdict,
                reason,
            } => {
                let what = if *verdict == Verdict::Error {
                    "could not be checked (error)"
                } else {
                    "failed"
                };
                write!(f, "{id}: MUST case {what} and is not in the baseline")?;
                if let Some(r) = reason {
                    write!(f, ": {r}")?;
                }
                Ok(())
            }
            Offence::Expired {
                id,
                expires,
                reason,
                verdict,
            } => {
                write!(
                    f,
                    "{id}: baseline entry expired on {} (reason was: {reason}); ",
                    format_date(*expires)
                )?;
                match verdict {
                    Some(v) if gates(*v) => write!(f, "the case still fails: fix it or renew the entry with a new date"),
                    Some(v) => write!(f, "the case is now {}: remove the entry", crate::tally::verdict_name(*v)),
                    None => write!(f, "the case did not run: remove or renew the entry"),
                }
            }
            Offence::NowPasses { id, verdict } => write!(
                f,
                "{id}: baseline entry no longer needed, the case is now {}: remove it from the baseline",
                crate::tally::verdict_name(*verdict)
            ),
        }
    }
}

/// A failure the baseline accepted in this run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Accepted {
    pub id: String,
    pub verdict: Verdict,
    pub entry: AcceptedFailure,
}

/// Verdicts that fail the gate on a MUST case. An error counts: a MUST the harness could not
/// check is not shown to hold, and a gate that went green whenever the target timed out
/// would gate nothing.
fn gates(v: Verdict) -> bool {
    matches!(v, Verdict::Fail | Verdict::Error)
}

fn is_gating(case: &CaseResult) -> bool {
    case.level == Level::Must && gates(case.verdict)
}

/// The gate's decision on one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Gate {
    /// Everything that makes the gate fail, ordered by case id.
    pub offences: Vec<Offence>,
    /// Failures the baseline accepted, ordered by case id.
    pub accepted: Vec<Accepted>,
    /// Baseline entries for cases this run did not include (a `--filter`ed run, or a case
    /// that was skipped); they are kept, since this run cannot judge them.
    pub not_judged: Vec<String>,
}

impl Gate {
    /// Applies `baseline` (if any) to `run` as of `today` (UTC, in practice). Pure, so the
    /// rules can be tested without a clock.
    pub fn evaluate(run: &RunResult, baseline: Option<&Baseline>, today: Date) -> Self {
        let entries: BTreeMap<&str, &AcceptedFailure> = baseline
            .map(|b| b.entries.iter().map(|e| (e.id.as_str(), e)).collect())
            .unwrap_or_default();
        let cases: BTreeMap<&str, &CaseResult> =
            run.cases.iter().map(|c| (c.id.as_str(), c)).collect();
        let mut gate = Gate::default();

        for (id, case) in &cases {
            if !is_gating(case) {
                continue;
            }
            match entries.get(id) {
                Some(entry) if entry.expires.is_none_or(|d| d >= today) => {
                    gate.accepted.push(Accepted {
                        id: (*id).to_owned(),
                        verdict: case.verdict,
                        entry: (*entry).clone(),
                    });
                }
                // An expired entry is reported below, once, with the failure it covered.
                Some(_) => {}
                None => gate.offences.push(Offence::NewFailure {
                    id: (*id).to_owned(),
                    verdict: case.verdict,
                    reason: case.reason.clone(),
                }),
            }
        }

        for (id, entry) in &entries {
            let verdict = cases.get(id).map(|c| c.verdict);
            match (entry.expires, verdict) {
                (Some(expires), _) if expires < today => gate.offences.push(Offence::Expired {
                    id: (*id).to_owned(),
                    expires,
                    reason: entry.reason.clone(),
                    verdict,
                }),
                (_, None | Some(Verdict::Skip)) => gate.not_judged.push((*id).to_owned()),
                (_, Some(v)) if !gates(v) => gate.offences.push(Offence::NowPasses {
                    id: (*id).to_owned(),
                    verdict: v,
                }),
                _ => {}
            }
        }
        gate.offences.sort_by(|a, b| a.id().cmp(b.id()));
        gate
    }

    pub fn passed(&self) -> bool {
        self.offences.is_empty()
    }

    pub fn is_accepted(&self, id: &str) -> Option<&Accepted> {
        self.accepted.iter().find(|a| a.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::tests::{case, run_of};
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 26);

    fn baseline(json: &str) -> Baseline {
        Baseline::parse(json).expect("valid baseline")
    }

    #[test]
    fn no_failures_and_no_baseline_passes() {
        let run = run_of(vec![case("a.b", Level::Must, Verdict::Pass)]);
        let gate = Gate::evaluate(&run, None, TODAY);
        assert!(gate.passed());
        assert!(gate.accepted.is_empty());
    }

    #[test]
    fn new_failure_fails_the_gate() {
        let run = run_of(vec![
            case("a.ok", Level::Must, Verdict::Pass),
            case("a.broken", Level::Must, Verdict::Fail),
            case("a.should", Level::Should, Verdict::Warn),
        ]);
        let gate = Gate::evaluate(&run, None, TODAY);
        assert!(!gate.passed());
        assert_eq!(gate.offences.len(), 1, "{:?}", gate.offences);
        assert!(matches!(&gate.offences[0], Offence::NewFailure { id, .. } if id == "a.broken"));
        let msg = gate.offences[0].to_string();
        assert!(
            msg.contains("a.broken") && msg.contains("not in the baseline"),
            "{msg}"
        );
    }

    #[test]
    fn must_error_fails_the_gate_but_should_error_does_not() {
        let run = run_of(vec![
            case("a.must", Level::Must, Verdict::Error),
            case("a.should", Level::Should, Verdict::Error),
        ]);
        let gate = Gate::evaluate(&run, None, TODAY);
        let ids: Vec<&str> = gate.offences.iter().map(Offence::id).collect();
        assert_eq!(ids, ["a.must"]);
    }

    #[test]
    fn baselined_failure_is_accepted() {
        let run = run_of(vec![case("a.broken", Level::Must, Verdict::Fail)]);
        let b = baseline(
            r#"{"accepted":[{"id":"a.broken","reason":"tracked in TICKET-1","expires":"2026-11-26"}]}"#,
        );
        let gate = Gate::evaluate(&run, Some(&b), TODAY);
        assert!(gate.passed(), "{:?}", gate.offences);
        assert_eq!(gate.accepted.len(), 1);
        assert_eq!(gate.accepted[0].entry.reason, "tracked in TICKET-1");
        assert!(gate.is_accepted("a.broken").is_some());
    }

    #[test]
    fn expired_entry_fails_the_gate_even_if_the_case_still_fails() {
        let run = run_of(vec![case("a.broken", Level::Must, Verdict::Fail)]);
        let b = baseline(
            r#"{"accepted":[{"id":"a.broken","reason":"until the fix ships","expires":"2026-11-25"}]}"#,
        );
        let gate = Gate::evaluate(&run, Some(&b), TODAY);
        assert!(!gate.passed());
        assert_eq!(gate.offences.len(), 1, "{:?}", gate.offences);
        assert!(matches!(gate.offences[0], Offence::Expired { .. }));
        let msg = gate.offences[0].to_string();
        assert!(msg.contains("expired on 2026-11-25"), "{msg}");
        assert!(msg.contains("still fails"), "{msg}");
        assert!(gate.accepted.is_empty());
    }

    #[test]
    fn entry_whose_case_now_passes_fails_the_gate() {
        let run = run_of(vec![case("a.fixed", Level::Must, Verdict::Pass)]);
        let b = baseline(r#"{"accepted":[{"id":"a.fixed","reason":"was broken"}]}"#);
        let gate = Gate::evaluate(&run, Some(&b), TODAY);
        assert_eq!(
            gate.offences,
            [Offence::NowPasses {
                id: "a.fixed".into(),
                verdict: Verdict::Pass
            }]
        );
        assert!(gate.offences[0].to_string().contains("remove it"));
    }

    #[test]
    fn entries_for_cases_not_run_are_kept() {
        let run = run_of(vec![case("a.skipped", Level::Must, Verdict::Skip)]);
        let b = baseline(
            r#"{"accepted":[{"id":"a.skipped","reason":"r"},{"id":"a.filtered_out","reason":"r"}]}"#,
        );
        let gate = Gate::evaluate(&run, Some(&b), TODAY);
        assert!(gate.passed(), "{:?}", gate.offences);
        assert_eq!(gate.not_judged, ["a.filtered_out", "a.skipped"]);
    }

    #[test]
    fn offences_are_ordered_by_id() {
        let run = run_of(vec![
            case("c.fail", Level::Must, Verdict::Fail),
            case("a.fail", Level::Must, Verdict::Fail),
            case("b.pass", Level::Must, Verdict::Pass),
        ]);
        let b = baseline(r#"{"accepted":[{"id":"b.pass","reason":"r"}]}"#);
        let gate = Gate::evaluate(&run, Some(&b), TODAY);
        let ids: Vec<&str> = gate.offences.iter().map(Offence::id).collect();
        assert_eq!(ids, ["a.fail", "b.pass", "c.fail"]);
    }

    #[test]
    fn loading_names_the_file_and_keeps_the_entry_as_the_cause() {
        let dir = crate::tests::temp_dir("baseline");
        let missing = dir.join("missing.json");
        let err = Baseline::load(&missing).unwrap_err();
        assert!(matches!(err, ReportError::ReadBaseline { .. }), "{err:?}");
        assert!(
            err.to_string().starts_with("cannot read baseline "),
            "{err}"
        );

        let bad = dir.join("baseline.json");
        std::fs::write(&bad, r#"{"accepted":[{"id":"a.b","reason":""}]}"#).unwrap();
        let err = Baseline::load(&bad).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("invalid baseline {}", bad.display())
        );
        let cause = std::error::Error::source(&err)
            .expect("the entry's problem")
            .to_string();
        assert!(
            cause.starts_with("accepted[0] (a.b): reason is empty"),
            "{cause}"
        );
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn bad_baselines_are_rejected_with_the_entry_named() {
        let cases = [
            (
                r#"{"accepted":[{"id":"a.b","reason":"r","expires":"26-11-2026"}]}"#,
                "not a YYYY-MM-DD",
            ),
            (
                r#"{"accepted":[{"id":"a.b","reason":" "}]}"#,
                "reason is empty",
            ),
            (
                r#"{"accepted":[{"id":"a.b","reason":"r"},{"id":"a.b","reason":"r"}]}"#,
                "more than once",
            ),
            (
                r#"{"accepted":[{"id":"a.b","reason":"r","until":"x"}]}"#,
                "expected",
            ),
            (r#"[1,2]"#, "expected"),
        ];
        for (json, needle) in cases {
            let err = Baseline::parse(json).unwrap_err().to_string();
            assert!(err.contains(needle), "{json}: {err}");
        }
    }
}
