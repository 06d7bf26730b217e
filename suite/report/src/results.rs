//! `results.json`: the whole run, machine-readable, so other tools (and a later re-render of
//! the reports) need nothing but this file.

use crate::baseline::{format_date, Gate};
use crate::error::ReportError;
use crate::tally::{sorted_cases, Counts};
use qoauth_harness::result::{CaseResult, RunResult, RunStats, Verdict};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Names the layout of results.json; bumped on any incompatible change.
pub const RESULTS_FORMAT: &str = "qoauth-results/1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultsFile {
    pub format: String,
    pub target: String,
    pub profile: String,
    pub started_at: String,
    /// Wall time of the whole run, the same as `stats.wall_ms`, at the top for readers that
    /// look for it there.
    pub duration_ms: f64,
    pub stats: RunStats,
    pub counts: VerdictCounts,
    pub gate: GateSummary,
    /// Every case, ordered by id, with its references, findings, timings and redacted
    /// transcript.
    pub cases: Vec<CaseResult>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictCounts {
    pub total: usize,
    pub pass: usize,
    pub fail: usize,
    pub warn: usize,
    pub skip: usize,
    pub error: usize,
    pub info: usize,
}

/// The gate's decision in plain strings, so consumers need not know the gate's types.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GateSummary {
    pub passed: bool,
    /// One message per offending case or baseline entry.
    pub offences: Vec<String>,
    pub accepted: Vec<AcceptedSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AcceptedSummary {
    pub id: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

impl ResultsFile {
    pub fn new(run: &RunResult, gate: &Gate) -> Self {
        let c = Counts::of(&run.cases);
        Self {
            format: RESULTS_FORMAT.to_owned(),
            target: run.target.clone(),
            profile: run.profile.clone(),
            started_at: run.started_at.clone(),
            duration_ms: run.stats.wall_ms,
            stats: run.stats.clone(),
            counts: VerdictCounts {
                total: c.total(),
                pass: c.get(Verdict::Pass),
                fail: c.get(Verdict::Fail),
                warn: c.get(Verdict::Warn),
                skip: c.get(Verdict::Skip),
                error: c.get(Verdict::Error),
                info: c.get(Verdict::Info),
            },
            gate: GateSummary {
                passed: gate.passed(),
                offences: gate.offences.iter().map(ToString::to_string).collect(),
                accepted: gate
                    .accepted
                    .iter()
                    .map(|a| AcceptedSummary {
                        id: a.id.clone(),
                        reason: a.entry.reason.clone(),
                        expires: a.entry.expires.map(format_date),
                    })
                    .collect(),
            },
            cases: sorted_cases(run).into_iter().cloned().collect(),
        }
    }

    /// The run this file describes, cases ordered by id.
    pub fn into_run(self) -> RunResult {
        RunResult {
            target: self.target,
            profile: self.profile,
            started_at: self.started_at,
            stats: self.stats,
            cases: self.cases,
        }
    }
}

pub fn render_results(run: &RunResult, gate: &Gate) -> Result<String, ReportError> {
    let mut s = serde_json::to_string_pretty(&ResultsFile::new(run, gate))
        .map_err(|source| ReportError::ResultsJson { source })?;
    s.push('\n');
    Ok(s)
}

pub fn read_results(path: &Path) -> Result<ResultsFile, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let file: ResultsFile =
        serde_json::from_str(&text).map_err(|source| ReportError::NotResults {
            path: path.to_path_buf(),
            source,
        })?;
    if file.format != RESULTS_FORMAT {
        return Err(ReportError::ResultsFormat {
            path: path.to_path_buf(),
            found: file.format,
        });
    }
    Ok(file)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use qoauth_harness::result::{
        Exchange, Finding, Level, RecordedRequest, RecordedResponse, Reference,
    };
    use std::collections::BTreeMap;

    /// A case whose endpoint is the first part of its id, citing RFC 6749 5.2 and the spec.
    pub(crate) fn case(id: &str, level: Level, verdict: Verdict) -> CaseResult {
        let failing = matches!(verdict, Verdict::Fail | Verdict::Warn | Verdict::Error);
        CaseResult {
            id: id.to_owned(),
            title: format!("title of {id}"),
            level,
            endpoint: id.split('.').next().unwrap_or("token").to_owned(),
            refs: vec![
                Reference {
                    doc: "RFC6749".into(),
                    section: "5.2".into(),
                    quote: Some("invalid_client".into()),
                },
                Reference {
                    doc: "spec".into(),
                    section: "POST /oauth/token 401".into(),
                    quote: None,
                },
            ],
            verdict,
            reason: (verdict != Verdict::Pass).then(|| format!("reason for {id}")),
            findings: if failing {
                vec![Finding {
                    at: Some("cases/token/sample.json:12".into()),
                    step: "0".into(),
                    expected: "status in [400, 401]".into(),
                    actual: "status 200".into(),
                }]
            } else {
                vec![]
            },
            records: BTreeMap::from([("/errors/0/code".into(), serde_json::json!("OAUTH-1"))]),
            choices: if verdict == Verdict::Pass {
                vec!["0: status 401 of the allowed status in [400, 401]".into()]
            } else {
                vec![]
            },
            transcript: vec![Exchange {
                step: "0".into(),
                request: RecordedRequest {
                    method: "POST".into(),
                    target: "/oauth/token".into(),
                    headers: BTreeMap::from([("content-type".into(), "application/json".into())]),
                    body: Some(r#"{"client_secret":"<secret:confidential>"}"#.into()),
                },
                response: Some(RecordedResponse {
                    status: 200,
                    headers: BTreeMap::from([("cache-control".into(), "no-store".into())]),
                    body: Some(r#"{"access_token":"<token:1>"}"#.into()),
                }),
                transport_error: None,
                elapsed_ms: Some(1.5),
                times: 1,
            }],
            requests: 1,
            duration_ms: 2.25,
        }
    }

    pub(crate) fn run_of(cases: Vec<CaseResult>) -> RunResult {
        RunResult {
            target: "http://127.0.0.1:1234".into(),
            profile: "reference".into(),
            started_at: "2026-11-26T12:00:00Z".into(),
            stats: RunStats {
                requests: cases.iter().map(|c| u64::from(c.requests)).sum(),
                wall_ms: 123.5,
                requests_per_second: 8.1,
                peak_rss_bytes: Some(42 * 1024 * 1024),
            },
            cases,
        }
    }

    #[test]
    fn results_json_round_trips() {
        let run = run_of(vec![
            case("token.b", Level::Must, Verdict::Fail),
            case("authorize.a", Level::Should, Verdict::Warn),
            case("revoke.c", Level::Info, Verdict::Info),
        ]);
        let gate = Gate::evaluate(&run, None, time::macros::date!(2026 - 01 - 01));
        let text = render_results(&run, &gate).unwrap();

        let dir = crate::tests::temp_dir("results");
        let path = dir.join("results.json");
        std::fs::write(&path, &text).unwrap();
        let file = read_results(&path).unwrap();

        assert_eq!(file.format, RESULTS_FORMAT);
        assert_eq!(file.counts.total, 3);
        assert_eq!(file.counts.fail, 1);
        assert_eq!(file.counts.warn, 1);
        assert!(!file.gate.passed);
        assert_eq!(file.gate.offences.len(), 1);
        assert_eq!(file.duration_ms, 123.5);
        let ids: Vec<&str> = file.cases.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["authorize.a", "revoke.c", "token.b"]);

        let mut expected = run.clone();
        expected.cases.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(file.into_run(), expected);
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn results_json_is_deterministic_in_case_order() {
        let a = case("token.a", Level::Must, Verdict::Pass);
        let b = case("token.b", Level::Must, Verdict::Pass);
        let gate = Gate::default();
        let one = render_results(&run_of(vec![a.clone(), b.clone()]), &gate).unwrap();
        let two = render_results(&run_of(vec![b, a]), &gate).unwrap();
        assert_eq!(one, two);
    }

    #[test]
    fn reading_a_foreign_file_fails_clearly() {
        let dir = crate::tests::temp_dir("foreign");
        let path = dir.join("results.json");
        std::fs::write(&path, r#"{"hello":1}"#).unwrap();
        let err = read_results(&path).unwrap_err().to_string();
        assert!(err.contains("is not a results.json file"), "{err}");
        std::fs::remove_dir_all(dir).ok();
    }
}
