//! The summary `qoauth run` prints on stdout: short enough to read in a terminal or a CI log,
//! complete enough to act on without opening the report.

use crate::baseline::Gate;
use crate::tally::{by_endpoint, mib, severity, sorted_cases, verdict_name, Counts, VERDICTS};
use crate::text::one_line;
use qoauth_harness::result::{RunResult, Verdict};
use std::fmt::Write as _;

const REASON_LIMIT: usize = 160;

fn row(out: &mut String, label: &str, c: &Counts, width: usize) {
    let _ = write!(out, "{label:<width$} {:>6}", c.total());
    for v in VERDICTS {
        let _ = write!(out, " {:>6}", c.get(v));
    }
    out.push('\n');
}

/// The run as plain text: a table of counts per endpoint and verdict, one line per failure,
/// error and warning with its reason, the gate's problems, and the figures.
pub fn console_summary(run: &RunResult, gate: &Gate) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "qoauth: {} case(s) against {} (profile {})\n",
        run.cases.len(),
        run.target,
        run.profile
    );
    let endpoints = by_endpoint(run);
    let width = endpoints
        .iter()
        .map(|(e, _)| e.chars().count())
        .max()
        .unwrap_or(0)
        .max("endpoint".len());
    let _ = write!(out, "{:<width$} {:>6}", "endpoint", "total");
    for v in VERDICTS {
        let _ = write!(out, " {:>6}", verdict_name(v));
    }
    out.push('\n');
    for (endpoint, c) in &endpoints {
        row(&mut out, endpoint, c, width);
    }
    row(&mut out, "all", &Counts::of(&run.cases), width);

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
        out.push('\n');
    }
    for c in problems {
        let tag = verdict_name(c.verdict).to_uppercase();
        let baselined = if gate.is_accepted(&c.id).is_some() {
            " [baselined]"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{tag:<5} {}{baselined}: {}",
            c.id,
            one_line(
                c.reason.as_deref().unwrap_or("no reason given"),
                REASON_LIMIT
            )
        );
        // Where the failing expectation is written, the way a compiler points at a line.
        if let Some(at) = c.findings.first().and_then(|f| f.at.as_deref()) {
            let _ = writeln!(out, "      at {at}");
        }
    }

    let s = &run.stats;
    let _ = writeln!(
        out,
        "\nrequests {} · wall time {:.0} ms · {:.0} requests/s · peak memory {}",
        s.requests,
        s.wall_ms,
        s.requests_per_second,
        s.peak_rss_bytes.map(mib).unwrap_or_else(|| "n/a".into())
    );
    if gate.passed() {
        let accepted = if gate.accepted.is_empty() {
            String::new()
        } else {
            format!(
                " ({} failure(s) accepted by the baseline)",
                gate.accepted.len()
            )
        };
        let _ = writeln!(out, "gate: passed{accepted}");
    } else {
        let _ = writeln!(out, "gate: FAILED");
        for off in &gate.offences {
            let _ = writeln!(out, "  - {}", one_line(&off.to_string(), 400));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::tests::{case, run_of};
    use qoauth_harness::result::Level;

    #[test]
    fn console_lists_counts_problems_and_figures() {
        let run = run_of(vec![
            case("token.ok", Level::Must, Verdict::Pass),
            case("token.bad", Level::Must, Verdict::Fail),
            case("revoke.meh", Level::Should, Verdict::Warn),
            case("authorize.skipped", Level::Must, Verdict::Skip),
        ]);
        let gate = Gate::evaluate(&run, None, time::macros::date!(2026 - 01 - 01));
        let text = console_summary(&run, &gate);
        let lines: Vec<&str> = text.lines().collect();
        let header = lines
            .iter()
            .position(|l| l.starts_with("endpoint"))
            .unwrap();
        assert!(lines[header].contains("fail") && lines[header].contains("skip"));
        assert!(lines[header + 1].starts_with("authorize"));
        assert!(lines[header + 2].starts_with("token"));
        assert!(lines[header + 3].starts_with("revoke"));
        assert!(lines[header + 4].starts_with("all"));
        assert!(text.contains("FAIL  token.bad: reason for token.bad"));
        // The failing matcher's file and line follow the reason.
        assert!(text.contains(
            "FAIL  token.bad: reason for token.bad\n      at cases/token/sample.json:12\n"
        ));
        assert!(text.contains("WARN  revoke.meh: reason for revoke.meh"));
        assert!(text.find("FAIL  token.bad").unwrap() < text.find("WARN  revoke.meh").unwrap());
        assert!(
            text.contains("requests 4 · wall time 124 ms · 8 requests/s · peak memory 42.0 MiB"),
            "{text}"
        );
        assert!(text.contains("gate: FAILED\n  - token.bad: MUST case failed"));
    }
}
