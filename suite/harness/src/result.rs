//! What a run produces: the contract between the engine (which fills it) and the report
//! writers (which only read it). Everything here is already redacted: no field may hold a
//! secret, a token or a code, so a writer can print any of it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How strongly a case's clause binds (RFC 2119 keyword of the clause it enforces).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Must,
    Should,
    May,
    Info,
}

/// The outcome of one case on one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every expectation held.
    Pass,
    /// A MUST expectation broke.
    Fail,
    /// A SHOULD expectation broke.
    Warn,
    /// Not run: the target lacks a capability the case needs, or the profile excludes it.
    Skip,
    /// The harness could not complete the case (timeout, connection, unusable response).
    Error,
    /// MAY and INFO cases: observed and recorded, never judged.
    Info,
}

/// A clause a case enforces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    /// `spec`, `RFC6749`, ... as in the case file.
    pub doc: String,
    pub section: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
}

/// One request and what came back, normalized and redacted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    pub step: String,
    pub request: RecordedRequest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<RecordedResponse>,
    /// Why there is no response (timeout, connection refused, body too large).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport_error: Option<String>,
    /// Not part of snapshots: timings vary between runs.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub elapsed_ms: Option<f64>,
    /// How many identical exchanges in a row this one stands for (a repeated step's
    /// thousand equal answers are one entry, not a thousand).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub times: u32,
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

impl Exchange {
    /// Whether `other` is the same exchange again: same step, request, answer and transport
    /// error, whatever its timing (redaction has already turned `Date` and the like into
    /// placeholders).
    fn repeats(&self, other: &Exchange) -> bool {
        self.step == other.step
            && self.request == other.request
            && self.transport_error == other.transport_error
            && self.response == other.response
    }
}

/// Folds runs of identical exchanges into one entry each, counted in `times`; the
/// first of a run is the one kept.
pub fn fold_repeats(transcript: Vec<Exchange>) -> Vec<Exchange> {
    let mut out: Vec<Exchange> = Vec::with_capacity(transcript.len());
    for ex in transcript {
        match out.last_mut() {
            Some(last) if last.repeats(&ex) => last.times += ex.times,
            _ => out.push(ex),
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub method: String,
    /// Path and query, relative to the target's base URL.
    pub target: String,
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedResponse {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// One expectation that did not hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Which step, by name or index.
    pub step: String,
    /// What was expected, e.g. `status in [400, 401]` or `/token_type equals_ci "bearer"`.
    pub expected: String,
    /// What was seen, redacted.
    pub actual: String,
    /// Where the expectation is written, `cases/token/pkce.json:212`, so a reader goes
    /// from the report to the matcher that failed. Not part of snapshots: it moves with
    /// every edit above it in the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseResult {
    pub id: String,
    pub title: String,
    pub level: Level,
    /// `authorize`, `token`, `revoke` or `discovery`: the endpoint the case is about.
    pub endpoint: String,
    pub refs: Vec<Reference>,
    pub verdict: Verdict,
    /// One line a person can act on: the first broken expectation, the skip reason, the error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    /// Values kept by `record` in the case file (INFO observations), redacted.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub records: BTreeMap<String, serde_json::Value>,
    /// Which of the answers its clauses allow the target gave, where they allow several
    /// (a status of a list, an `any_of` alternative, the real service's choice or
    /// another): the target's profile of choices in the reports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    pub transcript: Vec<Exchange>,
    pub requests: u32,
    pub duration_ms: f64,
}

/// Figures every run prints in its summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunStats {
    pub requests: u64,
    pub wall_ms: f64,
    pub requests_per_second: f64,
    /// Peak resident set of the harness process, where the platform tells it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// The target's base URL (no credentials).
    pub target: String,
    pub profile: String,
    /// RFC 3339 start time.
    pub started_at: String,
    pub stats: RunStats,
    pub cases: Vec<CaseResult>,
}
