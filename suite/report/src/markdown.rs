//! `summary.md`: a short Markdown page for CI job summaries (GitHub's `$GITHUB_STEP_SUMMARY`,
//! GitLab's report views): the gate, the totals, the problems and the figures. Everything
//! else stays in report.html.

use crate::baseline::Gate;
use crate::tally::{
    by_endpoint, level_name, mib, severity, sorted_cases, verdict_name, Counts, VERDICTS,
};
use crate::text::{md_escape as md, one_line};
use qoauth_harness::result::{RunResult, Verdict};
use std::fmt::Write as _;

/// Longest reason shown in a table cell; report.html has the whole text.
const REASON_LIMIT: usize = 200;

fn counts_row(out: &mut String, label: &str, c: &Counts) {
    let _ = write!(out, "| {label} | {} |", c.total());
    for v in VERDICTS {
        let _ = write!(out, " {} |", c.get(v));
    }
    out.push('\n');
}

pub fn render_markdown(run: &RunResult, gate: &Gate) -> String {
    let mut out = String::new();
    let status = if gate.passed() { "passed" } else { "FAILED" };
    let _ = writeln!(out, "## qoauth conformance: gate {status}\n");
    let _ = writeln!(
        out,
        "Target {} · profile {} · started {}\n",
        md(&run.target),
        md(&run.profile),
        md(&run.started_at)
    );

    out.push_str("| endpoint | total |");
    for v in VERDICTS {
        let _ = write!(out, " {} |", verdict_name(v));
    }
    out.push_str("\n|---|--:|");
    for _ in VERDICTS {
        out.push_str("--:|");
    }
    out.push('\n');
    for (endpoint, c) in by_endpoint(run) {
        counts_row(&mut out, &md(&endpoint), &c);
    }
    counts_row(&mut out, "**all**", &Counts::of(&run.cases));

    let s = &run.stats;
    let _ = writeln!(
        out,
        "\n**Figures:** {} requests in {:.0} ms ({:.0} requests/s), peak memory {}.",
        s.requests,
        s.wall_ms,
        s.requests_per_second,
        s.peak_rss_bytes.map(mib).unwrap_or_else(|| "n/a".into())
    );

    if !gate.offences.is_empty() {
        out.push_str("\n### Gate problems\n\n");
        for off in &gate.offences {
            let _ = writeln!(out, "- {}", md(&off.to_string()));
        }
    }

    let mut problems: Vec<_> = sorted_cases(run)
        .into_iter()
        .filter(|c| matches!(c.verdict, Verdict::Fail | Verdict::Error | Verdict::Warn))
        .collect();
    problems.sort_by(|a, b| {
        severity(b.verdict)
            .cmp(&severity(a.verdict))
            .then_with(|| a.id.cmp(&b.id))
    });
    if !problems.is_empty() {
        let _ = writeln!(
            out,
            "\n### Failures, errors and warnings ({})\n\n| case | level | verdict | reason |\n|---|---|---|---|",
            problems.len()
        );
        for c in problems {
            let baselined = if gate.is_accepted(&c.id).is_some() {
                " (baselined)"
            } else {
                ""
            };
            let mut reason = one_line(c.reason.as_deref().unwrap_or(""), REASON_LIMIT);
            if let Some(at) = c.findings.first().and_then(|f| f.at.as_deref()) {
                reason = format!("{reason} (at {at})");
            }
            let _ = writeln!(
                out,
                "| {} | {} | {}{baselined} | {} |",
                md(&c.id),
                level_name(c.level),
                verdict_name(c.verdict),
                md(&reason)
            );
        }
    }
    if !gate.accepted.is_empty() {
        let _ = writeln!(
            out,
            "\n{} failure(s) accepted by the baseline.",
            gate.accepted.len()
        );
    }
    let chosen: Vec<_> = sorted_cases(run)
        .into_iter()
        .filter(|c| !c.choices.is_empty())
        .collect();
    if !chosen.is_empty() {
        let _ = writeln!(
            out,
            "\n### The target's choices ({})\n\nWhere the clauses allow several answers, the one this target gave; none is a failure.\n\n| case | choice |\n|---|---|",
            chosen.len()
        );
        for c in chosen {
            let _ = writeln!(
                out,
                "| {} | {} |",
                md(&c.id),
                md(&one_line(&c.choices.join("; "), REASON_LIMIT))
            );
        }
    }
    out.push_str("\nThe full report (coverage matrix, choices, transcripts) is report.html.\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::tests::{case, run_of};
    use qoauth_harness::result::Level;

    #[test]
    fn summary_lists_the_targets_choices() {
        let run = run_of(vec![
            case("token.ok", Level::Must, Verdict::Pass),
            case("token.bad", Level::Must, Verdict::Fail),
        ]);
        let gate = Gate::evaluate(&run, None, time::macros::date!(2026 - 01 - 01));
        let md = render_markdown(&run, &gate);
        assert!(md.contains("### The target's choices (1)"), "{md}");
        let row = md
            .lines()
            .find(|l| l.starts_with("| token.ok"))
            .expect("a row for the case that chose");
        assert!(
            row.contains("status 401 of the allowed status in \\[400, 401\\]"),
            "{row}"
        );
    }

    #[test]
    fn summary_has_totals_problems_and_figures() {
        let mut bad = case("token.bad", Level::Must, Verdict::Fail);
        bad.reason = Some("status 200 | <b>not</b> 401\nsecond line".into());
        let run = run_of(vec![
            case("token.ok", Level::Must, Verdict::Pass),
            bad,
            case("authorize.meh", Level::Should, Verdict::Warn),
        ]);
        let gate = Gate::evaluate(&run, None, time::macros::date!(2026 - 01 - 01));
        let md = render_markdown(&run, &gate);
        assert!(md.starts_with("## qoauth conformance: gate FAILED"));
        assert!(
            md.contains("| **all** | 3 | 1 | 0 | 1 | 1 | 0 | 0 |"),
            "{md}"
        );
        assert!(md.contains("| authorize | 1 |"));
        assert!(md.contains("3 requests in 124 ms"), "{md}");
        assert!(md.contains("peak memory 42.0 MiB"));
        let fail_row = md
            .lines()
            .find(|l| l.starts_with("| token.bad"))
            .expect("fail row");
        assert!(
            fail_row.contains(r"status 200 \| &lt;b&gt;not&lt;/b&gt; 401 second line"),
            "{fail_row}"
        );
        // Failures are listed before warnings.
        assert!(md.find("| token.bad").unwrap() < md.find("| authorize.meh").unwrap());
        assert!(md.contains("- token.bad: MUST case failed"), "{md}");
    }

    #[test]
    fn clean_run_says_passed_and_lists_no_problems() {
        let run = run_of(vec![case("token.ok", Level::Must, Verdict::Pass)]);
        let md = render_markdown(&run, &Gate::default());
        assert!(md.starts_with("## qoauth conformance: gate passed"));
        assert!(!md.contains("### Failures"));
        assert!(!md.contains("### Gate problems"));
    }
}
