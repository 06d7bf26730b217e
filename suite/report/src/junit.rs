//! `junit.xml`, for CI systems that show test results.
//!
//! The JUnit failures and errors are exactly what the gate counts, so a CI system that turns
//! red on JUnit failures agrees with `qoauth`'s exit code:
//! - a MUST case that failed (or errored) outside the baseline is a `<failure>` (`<error>`);
//! - a SHOULD case that broke (warn) passes, with `verdict=warn` as a property and the reason
//!   in `<system-out>`: a SHOULD is not a conformance failure, and marking it skipped would
//!   claim it was not exercised when it was;
//! - a failure the baseline accepts, a skipped case, and an error on a case that is not MUST
//!   are `<skipped>` with a `type` (`baselined`, `skip`, `error`) and the reason as message,
//!   so they stay visible without gating;
//! - baseline entries get their own `baseline` suite: expired or no longer needed entries are
//!   failures there, because they fail the gate too.

use crate::baseline::{format_date, Gate, Offence};
use crate::error::ReportError;
use crate::tally::{endpoint_cmp, level_name, sorted_cases, verdict_name};
use crate::text::{findings_text, transcript_text};
use qoauth_harness::result::{CaseResult, Level, RunResult, Verdict};
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use std::collections::BTreeMap;
use std::time::Duration;

fn duration(ms: f64) -> Duration {
    Duration::try_from_secs_f64(ms / 1000.0).unwrap_or_default()
}

fn refs_text(case: &CaseResult) -> String {
    case.refs
        .iter()
        .map(|r| format!("{} {}", r.doc, r.section))
        .collect::<Vec<_>>()
        .join("; ")
}

fn skipped(ty: &str, message: String) -> TestCaseStatus {
    let mut s = TestCaseStatus::skipped();
    s.set_type(ty).set_message(message);
    s
}

fn test_case(case: &CaseResult, gate: &Gate) -> TestCase {
    let reason = case.reason.clone().unwrap_or_default();
    let (status, out) = match case.verdict {
        Verdict::Pass => (TestCaseStatus::success(), None),
        Verdict::Info => {
            let records = serde_json::to_string_pretty(&case.records).unwrap_or_default();
            (
                TestCaseStatus::success(),
                (!case.records.is_empty()).then(|| format!("recorded:\n{records}\n")),
            )
        }
        Verdict::Warn => (
            TestCaseStatus::success(),
            Some(format!(
                "WARN (SHOULD not met): {reason}\n{}\n{}",
                findings_text(case),
                transcript_text(&case.transcript)
            )),
        ),
        Verdict::Skip => (skipped("skip", reason), None),
        Verdict::Fail | Verdict::Error => {
            if let Some(acc) = gate.is_accepted(&case.id) {
                let until = acc
                    .entry
                    .expires
                    .map(|d| format!(" until {}", format_date(d)))
                    .unwrap_or_default();
                (
                    skipped(
                        "baselined",
                        format!(
                            "{} accepted by the baseline{until} ({}): {reason}",
                            verdict_name(case.verdict),
                            acc.entry.reason
                        ),
                    ),
                    Some(transcript_text(&case.transcript)),
                )
            } else if case.verdict == Verdict::Error && case.level != Level::Must {
                (
                    skipped("error", format!("could not be checked: {reason}")),
                    Some(transcript_text(&case.transcript)),
                )
            } else {
                let kind = if case.verdict == Verdict::Fail {
                    NonSuccessKind::Failure
                } else {
                    NonSuccessKind::Error
                };
                let mut s = TestCaseStatus::non_success(kind);
                s.set_type(verdict_name(case.verdict))
                    .set_message(reason)
                    .set_description(findings_text(case));
                (s, Some(transcript_text(&case.transcript)))
            }
        }
    };
    let mut tc = TestCase::new(case.id.as_str(), status);
    tc.set_classname(format!("qoauth.{}", case.endpoint))
        .set_time(duration(case.duration_ms))
        .add_properties([
            Property::new("level", level_name(case.level)),
            Property::new("verdict", verdict_name(case.verdict)),
            Property::new("refs", refs_text(case)),
            Property::new("title", case.title.as_str()),
        ]);
    if let Some(out) = out {
        tc.set_system_out(out);
    }
    tc
}

fn baseline_suite(gate: &Gate) -> Option<TestSuite> {
    let mut rows: Vec<(String, TestCaseStatus)> = Vec::new();
    for acc in &gate.accepted {
        rows.push((acc.id.clone(), TestCaseStatus::success()));
    }
    for off in &gate.offences {
        if matches!(off, Offence::NewFailure { .. }) {
            continue;
        }
        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
        s.set_type("baseline").set_message(off.to_string());
        rows.push((off.id().to_owned(), s));
    }
    for id in &gate.not_judged {
        rows.push((
            id.clone(),
            skipped(
                "not_judged",
                "the case did not run to a verdict in this run".into(),
            ),
        ));
    }
    if rows.is_empty() {
        return None;
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let mut suite = TestSuite::new("baseline");
    for (id, status) in rows {
        let mut tc = TestCase::new(format!("baseline.{id}"), status);
        tc.set_classname("qoauth.baseline");
        suite.add_test_case(tc);
    }
    Some(suite)
}

pub fn render_junit(run: &RunResult, gate: &Gate) -> Result<String, ReportError> {
    let mut by_endpoint: BTreeMap<&str, Vec<&CaseResult>> = BTreeMap::new();
    for case in sorted_cases(run) {
        by_endpoint.entry(&case.endpoint).or_default().push(case);
    }
    let mut endpoints: Vec<(&str, Vec<&CaseResult>)> = by_endpoint.into_iter().collect();
    endpoints.sort_by(|a, b| endpoint_cmp(a.0, b.0));

    let mut report = Report::new(format!("qoauth {}", run.profile));
    report.set_time(duration(run.stats.wall_ms));
    for (endpoint, cases) in endpoints {
        let mut suite = TestSuite::new(endpoint);
        suite.set_time(duration(cases.iter().map(|c| c.duration_ms).sum()));
        suite.add_properties([
            Property::new("target", run.target.as_str()),
            Property::new("profile", run.profile.as_str()),
        ]);
        suite.add_test_cases(cases.into_iter().map(|c| test_case(c, gate)));
        report.add_test_suite(suite);
    }
    if let Some(suite) = baseline_suite(gate) {
        report.add_test_suite(suite);
    }
    report
        .to_string()
        .map_err(|source| ReportError::Junit { source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::Baseline;
    use crate::results::tests::{case, run_of};
    use time::macros::date;

    fn parse(xml: &str) -> Report {
        Report::deserialize_from_str(xml).expect("junit.xml parses back")
    }

    fn find<'a>(report: &'a Report, suite: &str, name: &str) -> &'a TestCase {
        report
            .test_suites
            .iter()
            .find(|s| s.name.as_str() == suite)
            .unwrap_or_else(|| panic!("suite {suite}"))
            .test_cases
            .iter()
            .find(|c| c.name.as_str() == name)
            .unwrap_or_else(|| panic!("case {name}"))
    }

    #[test]
    fn suites_per_endpoint_in_flow_order() {
        let run = run_of(vec![
            case("revoke.a", Level::Must, Verdict::Pass),
            case("token.b", Level::Must, Verdict::Pass),
            case("authorize.c", Level::Must, Verdict::Pass),
            case("token.a", Level::Must, Verdict::Pass),
        ]);
        let report = parse(&render_junit(&run, &Gate::default()).unwrap());
        let suites: Vec<&str> = report.test_suites.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(suites, ["authorize", "token", "revoke"]);
        let token: Vec<&str> = report.test_suites[1]
            .test_cases
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(token, ["token.a", "token.b"]);
        assert_eq!(report.tests, 4);
        assert_eq!(report.failures, 0);
    }

    #[test]
    fn verdicts_map_to_what_the_gate_counts() {
        let run = run_of(vec![
            case("token.fail", Level::Must, Verdict::Fail),
            case("token.error", Level::Must, Verdict::Error),
            case("token.should_error", Level::Should, Verdict::Error),
            case("token.warn", Level::Should, Verdict::Warn),
            case("token.skip", Level::Must, Verdict::Skip),
            case("token.info", Level::Info, Verdict::Info),
            case("token.pass", Level::Must, Verdict::Pass),
        ]);
        let gate = Gate::evaluate(&run, None, date!(2026 - 01 - 01));
        let xml = render_junit(&run, &gate).unwrap();
        let report = parse(&xml);
        assert_eq!(report.failures, 1, "{xml}");
        assert_eq!(report.errors, 1, "{xml}");

        match &find(&report, "token", "token.fail").status {
            TestCaseStatus::NonSuccess {
                kind: NonSuccessKind::Failure,
                message,
                description,
                ..
            } => {
                assert_eq!(message.as_deref(), Some("reason for token.fail"));
                assert!(description
                    .as_deref()
                    .unwrap()
                    .contains("expected status in [400, 401]; actual status 200"));
            }
            other => panic!("{other:?}"),
        }
        let warn = find(&report, "token", "token.warn");
        assert!(matches!(warn.status, TestCaseStatus::Success { .. }));
        assert!(warn
            .system_out
            .as_deref()
            .unwrap()
            .starts_with("WARN (SHOULD not met): reason for token.warn"));
        assert!(warn
            .properties
            .iter()
            .any(|p| p.name.as_str() == "verdict" && p.value.as_str() == "warn"));
        for (id, ty) in [("token.skip", "skip"), ("token.should_error", "error")] {
            match &find(&report, "token", id).status {
                TestCaseStatus::Skipped { ty: t, .. } => assert_eq!(t.as_deref(), Some(ty)),
                other => panic!("{id}: {other:?}"),
            }
        }
    }

    #[test]
    fn baselined_failures_are_skipped_and_stale_entries_fail() {
        let run = run_of(vec![
            case("token.known", Level::Must, Verdict::Fail),
            case("token.fixed", Level::Must, Verdict::Pass),
        ]);
        let b = Baseline::parse(
            r#"{"accepted":[{"id":"token.known","reason":"TICKET-7"},{"id":"token.fixed","reason":"old"}]}"#,
        )
        .unwrap();
        let gate = Gate::evaluate(&run, Some(&b), date!(2026 - 01 - 01));
        let report = parse(&render_junit(&run, &gate).unwrap());
        match &find(&report, "token", "token.known").status {
            TestCaseStatus::Skipped { ty, message, .. } => {
                assert_eq!(ty.as_deref(), Some("baselined"));
                assert!(message.as_deref().unwrap().contains("TICKET-7"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            find(&report, "baseline", "baseline.token.fixed").status,
            TestCaseStatus::NonSuccess {
                kind: NonSuccessKind::Failure,
                ..
            }
        ));
        assert!(matches!(
            find(&report, "baseline", "baseline.token.known").status,
            TestCaseStatus::Success { .. }
        ));
        assert_eq!(report.failures, 1);
    }

    #[test]
    fn hostile_strings_survive_as_text() {
        let mut c = case("token.x", Level::Must, Verdict::Fail);
        c.reason = Some("</failure><script>\u{1b}[31m\u{0}\"&'".into());
        let run = run_of(vec![c]);
        let xml = render_junit(&run, &Gate::default()).unwrap();
        assert!(!xml.contains("<script>"));
        let report = parse(&xml);
        match &find(&report, "token", "token.x").status {
            TestCaseStatus::NonSuccess { message, .. } => {
                assert_eq!(message.as_deref(), Some("</failure><script>\"&'"))
            }
            other => panic!("{other:?}"),
        }
    }
}
