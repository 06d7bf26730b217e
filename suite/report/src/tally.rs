//! Aggregations shared by the writers, with one fixed ordering for each, so that every format
//! lists endpoints, documents and clauses the same way.

use qoauth_harness::result::{CaseResult, Level, RunResult, Verdict};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// Verdicts in the order summaries list them: the outcomes that need attention first.
pub(crate) const VERDICTS: [Verdict; 6] = [
    Verdict::Fail,
    Verdict::Error,
    Verdict::Warn,
    Verdict::Pass,
    Verdict::Info,
    Verdict::Skip,
];

pub(crate) fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Warn => "warn",
        Verdict::Skip => "skip",
        Verdict::Error => "error",
        Verdict::Info => "info",
    }
}

pub(crate) fn level_name(l: Level) -> &'static str {
    match l {
        Level::Must => "MUST",
        Level::Should => "SHOULD",
        Level::May => "MAY",
        Level::Info => "INFO",
    }
}

/// How bad a verdict is for the clause it exercises. A failure outranks an error (an error
/// only says the harness could not tell), an error outranks a warning (it may hide a
/// failure), and a skip outranks a pass because a clause with a skipped case is not fully
/// verified on this target.
pub(crate) fn severity(v: Verdict) -> u8 {
    match v {
        Verdict::Fail => 5,
        Verdict::Error => 4,
        Verdict::Warn => 3,
        Verdict::Skip => 2,
        Verdict::Pass => 1,
        Verdict::Info => 0,
    }
}

/// Counts of cases per verdict.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts([usize; 6]);

impl Counts {
    fn slot(v: Verdict) -> usize {
        VERDICTS.iter().position(|x| *x == v).unwrap_or(0)
    }
    pub(crate) fn add(&mut self, v: Verdict) {
        self.0[Self::slot(v)] += 1;
    }
    pub(crate) fn get(&self, v: Verdict) -> usize {
        self.0[Self::slot(v)]
    }
    pub(crate) fn total(&self) -> usize {
        self.0.iter().sum()
    }
    pub(crate) fn of<'a>(cases: impl IntoIterator<Item = &'a CaseResult>) -> Self {
        let mut c = Self::default();
        for case in cases {
            c.add(case.verdict);
        }
        c
    }
}

/// The spec's endpoints in request-flow order; anything else follows alphabetically.
fn endpoint_rank(e: &str) -> u8 {
    match e {
        "authorize" => 0,
        "token" => 1,
        "revoke" => 2,
        "discovery" => 3,
        _ => 4,
    }
}

pub(crate) fn endpoint_cmp(a: &str, b: &str) -> Ordering {
    endpoint_rank(a)
        .cmp(&endpoint_rank(b))
        .then_with(|| a.cmp(b))
}

/// Documents in the order the case schema lists them: the spec, then RFCs by number, then
/// OIDC and the behaviour notes.
fn doc_rank(d: &str) -> u8 {
    match d {
        "spec" => 0,
        "RFC6749" => 1,
        "RFC6750" => 2,
        "RFC7009" => 3,
        "RFC7523" => 4,
        "RFC7636" => 5,
        "RFC8414" => 6,
        "RFC8693" => 7,
        "RFC9700" => 8,
        "OIDC" => 9,
        "notes" => 10,
        _ => 11,
    }
}

pub(crate) fn doc_cmp(a: &str, b: &str) -> Ordering {
    doc_rank(a).cmp(&doc_rank(b)).then_with(|| a.cmp(b))
}

/// Compares section names so that "4.1.2" < "4.1.10" < "10.2": runs of digits compare as
/// numbers, everything else as text.
pub(crate) fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        match (a.is_empty(), b.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        let da = a.bytes().take_while(u8::is_ascii_digit).count();
        let db = b.bytes().take_while(u8::is_ascii_digit).count();
        let ord = if da > 0 && db > 0 {
            let (na, nb) = (
                a[..da].trim_start_matches('0'),
                b[..db].trim_start_matches('0'),
            );
            na.len()
                .cmp(&nb.len())
                .then_with(|| na.cmp(nb))
                .then_with(|| da.cmp(&db))
        } else {
            let ca = a.chars().next().unwrap_or_default();
            let cb = b.chars().next().unwrap_or_default();
            ca.cmp(&cb)
        };
        if ord != Ordering::Equal {
            return ord;
        }
        let step_a = if da > 0 && db > 0 {
            da
        } else {
            a.chars().next().map_or(0, char::len_utf8)
        };
        let step_b = if da > 0 && db > 0 {
            db
        } else {
            b.chars().next().map_or(0, char::len_utf8)
        };
        a = &a[step_a..];
        b = &b[step_b..];
    }
}

/// The run's cases ordered by id (ties, which a valid catalogue never has, keep run order).
pub(crate) fn sorted_cases(run: &RunResult) -> Vec<&CaseResult> {
    let mut cases: Vec<&CaseResult> = run.cases.iter().collect();
    cases.sort_by(|a, b| a.id.cmp(&b.id));
    cases
}

pub(crate) fn by_endpoint(run: &RunResult) -> Vec<(String, Counts)> {
    let mut map: BTreeMap<&str, Counts> = BTreeMap::new();
    for case in &run.cases {
        map.entry(case.endpoint.as_str())
            .or_default()
            .add(case.verdict);
    }
    let mut rows: Vec<(String, Counts)> = map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    rows.sort_by(|a, b| endpoint_cmp(&a.0, &b.0));
    rows
}

/// Per document, counts of the cases that cite it at least once.
pub(crate) fn by_doc(run: &RunResult) -> Vec<(String, Counts)> {
    let mut map: BTreeMap<&str, Counts> = BTreeMap::new();
    for case in &run.cases {
        let mut docs: Vec<&str> = case.refs.iter().map(|r| r.doc.as_str()).collect();
        docs.sort_unstable();
        docs.dedup();
        for doc in docs {
            map.entry(doc).or_default().add(case.verdict);
        }
    }
    let mut rows: Vec<(String, Counts)> = map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    rows.sort_by(|a, b| doc_cmp(&a.0, &b.0));
    rows
}

/// One clause of the coverage matrix.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Requirement {
    pub doc: String,
    pub section: String,
    /// The strongest level among the cases citing the clause.
    pub level: Level,
    /// The first quote any citing case gives, for a reader who does not have the RFC open.
    pub quote: Option<String>,
    /// Citing cases by id, with their verdicts.
    pub cases: Vec<(String, Verdict)>,
    pub worst: Verdict,
}

/// Every (document, section) the run's cases cite, with the cases that exercise it.
pub(crate) fn coverage(run: &RunResult) -> Vec<Requirement> {
    let mut map: BTreeMap<(&str, &str), Requirement> = BTreeMap::new();
    for case in sorted_cases(run) {
        for r in &case.refs {
            let req = map
                .entry((r.doc.as_str(), r.section.as_str()))
                .or_insert_with(|| Requirement {
                    doc: r.doc.clone(),
                    section: r.section.clone(),
                    level: case.level,
                    quote: None,
                    cases: Vec::new(),
                    worst: case.verdict,
                });
            req.level = req.level.min(case.level);
            if req.quote.is_none() {
                req.quote.clone_from(&r.quote);
            }
            if !req.cases.iter().any(|(id, _)| *id == case.id) {
                req.cases.push((case.id.clone(), case.verdict));
            }
            if severity(case.verdict) > severity(req.worst) {
                req.worst = case.verdict;
            }
        }
    }
    let mut rows: Vec<Requirement> = map.into_values().collect();
    rows.sort_by(|a, b| {
        doc_cmp(&a.doc, &b.doc)
            .then_with(|| natural_cmp(&a.section, &b.section))
            .then_with(|| a.section.cmp(&b.section))
    });
    rows
}

/// Bytes as MiB with one decimal, the unit the project's memory goals use.
pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_sort_numerically() {
        let mut s = vec![
            "10.2",
            "4.1.10",
            "4.1.2",
            "4.1.2.1",
            "2.3.1",
            "POST /oauth/token 401",
        ];
        s.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            s,
            [
                "2.3.1",
                "4.1.2",
                "4.1.2.1",
                "4.1.10",
                "10.2",
                "POST /oauth/token 401"
            ]
        );
    }

    #[test]
    fn natural_cmp_handles_unicode_and_leading_zeros() {
        assert_eq!(natural_cmp("é1", "é2"), Ordering::Less);
        assert_eq!(natural_cmp("a02", "a2"), Ordering::Greater);
        assert_eq!(natural_cmp("a2", "a2"), Ordering::Equal);
    }

    #[test]
    fn severity_ranks_fail_worst() {
        let mut v = VERDICTS.to_vec();
        v.sort_by_key(|v| std::cmp::Reverse(severity(*v)));
        assert_eq!(
            v,
            [
                Verdict::Fail,
                Verdict::Error,
                Verdict::Warn,
                Verdict::Skip,
                Verdict::Pass,
                Verdict::Info
            ]
        );
    }
}
