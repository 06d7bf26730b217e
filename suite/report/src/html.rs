//! `report.html`: one self-contained page (inline CSS, no scripts, no external assets) that
//! a person opens from a CI artifact or a laptop and reads top to bottom: the gate, the
//! figures, the counts, the coverage matrix, then every problem with its evidence.

use crate::baseline::{format_date, Gate};
use crate::tally::{
    by_doc, by_endpoint, coverage, level_name, mib, severity, sorted_cases, verdict_name, Counts,
    VERDICTS,
};
use crate::text::{html_escape as esc, transcript_text};
use qoauth_harness::result::{CaseResult, RunResult, Verdict};
use std::fmt::Write as _;

const STYLE: &str = r#"
:root{--fail:#c62828;--error:#6a1b9a;--warn:#ef6c00;--pass:#2e7d32;--info:#1565c0;--skip:#757575}
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1200px;padding:1.5em;color:#212121}
h1{font-size:1.6em;margin:.2em 0}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;width:100%;margin:.6em 0}th,td{border:1px solid #e0e0e0;padding:.3em .5em;text-align:left;vertical-align:top}
td.w{overflow-wrap:anywhere}
th{background:#f5f5f5}td.n{text-align:right;font-variant-numeric:tabular-nums}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em}
pre{background:#fafafa;border:1px solid #eee;padding:.6em;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
.v{display:inline-block;min-width:3.6em;text-align:center;border-radius:3px;color:#fff;font-weight:600;font-size:.85em;padding:0 .4em}
.v-fail{background:var(--fail)}.v-error{background:var(--error)}.v-warn{background:var(--warn)}
.v-pass{background:var(--pass)}.v-info{background:var(--info)}.v-skip{background:var(--skip)}
.cards{display:flex;flex-wrap:wrap;gap:.6em}.card{border:1px solid #e0e0e0;border-radius:6px;padding:.5em 1em;min-width:6em}
.card b{display:block;font-size:1.6em}.gate{padding:.7em 1em;border-radius:6px;margin:1em 0;color:#fff}
.gate-pass{background:var(--pass)}.gate-fail{background:var(--fail)}.gate ul{margin:.3em 0}
.case{border:1px solid #e0e0e0;border-left:6px solid var(--skip);border-radius:4px;padding:.4em 1em;margin:1em 0}
.case-fail{border-left-color:var(--fail)}.case-error{border-left-color:var(--error)}.case-warn{border-left-color:var(--warn)}
.muted{color:#616161}.quote{font-style:italic;color:#616161}
"#;

fn badge(v: Verdict) -> String {
    let n = verdict_name(v);
    format!(r#"<span class="v v-{n}">{n}</span>"#)
}

fn anchor(id: &str) -> String {
    esc(&format!("case-{id}"))
}

fn case_link(id: &str) -> String {
    format!(
        r##"<a href="#{}"><code>{}</code></a>"##,
        anchor(id),
        esc(id)
    )
}

fn counts_cells(out: &mut String, c: &Counts) {
    let _ = write!(out, r#"<td class="n">{}</td>"#, c.total());
    for v in VERDICTS {
        let _ = write!(out, r#"<td class="n">{}</td>"#, c.get(v));
    }
}

fn counts_header(out: &mut String, first: &str) {
    let _ = write!(out, "<tr><th>{}</th><th>total</th>", esc(first));
    for v in VERDICTS {
        let _ = write!(out, "<th>{}</th>", verdict_name(v));
    }
    out.push_str("</tr>\n");
}

fn gate_section(out: &mut String, gate: &Gate) {
    if gate.passed() {
        out.push_str(r#"<div class="gate gate-pass"><b>Gate: passed</b> — no MUST case fails outside the baseline"#);
    } else {
        let _ = write!(
            out,
            r#"<div class="gate gate-fail"><b>Gate: failed</b> — {} problem(s)<ul>"#,
            gate.offences.len()
        );
        for off in &gate.offences {
            let _ = write!(out, "<li>{}</li>", esc(&off.to_string()));
        }
        out.push_str("</ul>");
    }
    if !gate.accepted.is_empty() {
        let _ = write!(out, " ({} accepted by the baseline)", gate.accepted.len());
    }
    out.push_str("</div>\n");
}

fn figures(out: &mut String, run: &RunResult) {
    let s = &run.stats;
    let peak = s.peak_rss_bytes.map(mib).unwrap_or_else(|| "n/a".into());
    let c = Counts::of(&run.cases);
    out.push_str(r#"<div class="cards">"#);
    for v in VERDICTS {
        let _ = write!(
            out,
            r#"<div class="card">{}<b>{}</b></div>"#,
            badge(v),
            c.get(v)
        );
    }
    let _ = write!(
        out,
        r#"<div class="card">cases<b>{}</b></div><div class="card">requests<b>{}</b></div><div class="card">wall time<b>{:.0} ms</b></div><div class="card">requests/s<b>{:.0}</b></div><div class="card">peak memory<b>{}</b></div></div>"#,
        c.total(),
        s.requests,
        s.wall_ms,
        s.requests_per_second,
        esc(&peak)
    );
    out.push('\n');
}

fn summary_tables(out: &mut String, run: &RunResult) {
    out.push_str("<h2 id=\"by-endpoint\">By endpoint</h2>\n<table>\n");
    counts_header(out, "endpoint");
    for (endpoint, c) in by_endpoint(run) {
        let _ = write!(out, "<tr><td><code>{}</code></td>", esc(&endpoint));
        counts_cells(out, &c);
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n<h2 id=\"by-document\">By document</h2>\n<p class=\"muted\">A case that cites a document several times counts once for it.</p>\n<table>\n");
    counts_header(out, "document");
    for (doc, c) in by_doc(run) {
        let _ = write!(out, "<tr><td>{}</td>", esc(&doc));
        counts_cells(out, &c);
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

fn matrix(out: &mut String, run: &RunResult) {
    let reqs = coverage(run);
    let _ = write!(
        out,
        "<h2 id=\"coverage\">Requirements coverage</h2>\n<p class=\"muted\">Every clause the catalogue cites ({} in all), the cases that exercise it, and the worst verdict among them on this target (fail &gt; error &gt; warn &gt; skip &gt; pass &gt; info). The level is the strongest of the citing cases.</p>\n<table>\n<tr><th>document</th><th>section</th><th>level</th><th>verdict</th><th>cases</th></tr>\n",
        reqs.len()
    );
    for r in reqs {
        let quote = r
            .quote
            .as_deref()
            .map(|q| format!(r#"<div class="quote">“{}”</div>"#, esc(q)))
            .unwrap_or_default();
        let cases: Vec<String> = r
            .cases
            .iter()
            .map(|(id, v)| {
                if severity(*v) > severity(Verdict::Pass) {
                    format!("{} ({})", case_link(id), verdict_name(*v))
                } else {
                    case_link(id)
                }
            })
            .collect();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td><td class=\"w\">{}</td></tr>",
            esc(&r.doc),
            esc(&r.section),
            quote,
            level_name(r.level),
            badge(r.worst),
            cases.join(", ")
        );
    }
    out.push_str("</table>\n");
}

fn problem(out: &mut String, case: &CaseResult, gate: &Gate) {
    let v = verdict_name(case.verdict);
    let _ = write!(
        out,
        r#"<div class="case case-{v}" id="{}"><h3>{} <code>{}</code> {}</h3>"#,
        anchor(&case.id),
        badge(case.verdict),
        esc(&case.id),
        esc(&case.title)
    );
    let refs: Vec<String> = case
        .refs
        .iter()
        .map(|r| format!("{} {}", esc(&r.doc), esc(&r.section)))
        .collect();
    let _ = write!(
        out,
        "<p>{} · <code>{}</code> · {} · {} request(s), {:.1} ms</p>",
        level_name(case.level),
        esc(&case.endpoint),
        refs.join("; "),
        case.requests,
        case.duration_ms
    );
    if let Some(reason) = &case.reason {
        let _ = write!(out, "<p><b>Reason:</b> {}</p>", esc(reason));
    }
    if let Some(acc) = gate.is_accepted(&case.id) {
        let until = acc
            .entry
            .expires
            .map(|d| format!(", until {}", format_date(d)))
            .unwrap_or_default();
        let _ = write!(
            out,
            "<p><b>Accepted by the baseline</b>{}: {}</p>",
            esc(&until),
            esc(&acc.entry.reason)
        );
    }
    if !case.findings.is_empty() {
        out.push_str(
            "<table><tr><th>step</th><th>expected</th><th>actual</th><th>written at</th></tr>",
        );
        for f in &case.findings {
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td class=\"w\"><code>{}</code></td><td class=\"w\"><code>{}</code></td><td><code>{}</code></td></tr>",
                esc(&f.step),
                esc(&f.expected),
                esc(&f.actual),
                esc(f.at.as_deref().unwrap_or(""))
            );
        }
        out.push_str("</table>");
    }
    let _ = writeln!(
        out,
        "<details><summary>Transcript ({} exchange(s), redacted)</summary><pre>{}</pre></details></div>",
        case.transcript.len(),
        esc(&transcript_text(&case.transcript))
    );
}

fn all_cases(out: &mut String, cases: &[&CaseResult], gate: &Gate) {
    out.push_str("<h2 id=\"cases\">All cases</h2>\n<table>\n<tr><th>case</th><th>endpoint</th><th>level</th><th>verdict</th><th>reason</th><th class=\"n\">requests</th><th class=\"n\">ms</th></tr>\n");
    for case in cases {
        // Problems already carry the anchor; the others get it here.
        let id_attr = if matches!(case.verdict, Verdict::Fail | Verdict::Warn | Verdict::Error) {
            String::new()
        } else {
            format!(r#" id="{}""#, anchor(&case.id))
        };
        let mut reason = case.reason.as_deref().map(esc).unwrap_or_default();
        if gate.is_accepted(&case.id).is_some() {
            reason.push_str(" <i>(baselined)</i>");
        }
        let _ = writeln!(
            out,
            r#"<tr{id_attr}><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td class="w">{}</td><td class="n">{}</td><td class="n">{:.1}</td></tr>"#,
            case_link(&case.id),
            esc(&case.endpoint),
            level_name(case.level),
            badge(case.verdict),
            reason,
            case.requests,
            case.duration_ms
        );
    }
    out.push_str("</table>\n");
}

fn observations(out: &mut String, cases: &[&CaseResult]) {
    let recorded: Vec<&&CaseResult> = cases.iter().filter(|c| !c.records.is_empty()).collect();
    if recorded.is_empty() {
        return;
    }
    out.push_str("<h2 id=\"observations\">Recorded observations</h2>\n<p class=\"muted\">What the target answered where no clause fixes the answer (error codes, formats, lifetimes): recorded, never judged.</p>\n<table>\n<tr><th>case</th><th>value</th><th>observed</th></tr>\n");
    for case in recorded {
        for (key, value) in &case.records {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td class=\"w\"><code>{}</code></td><td class=\"w\"><code>{}</code></td></tr>",
                case_link(&case.id),
                esc(key),
                esc(&value.to_string())
            );
        }
    }
    out.push_str("</table>\n");
}

/// Where the clauses allow several answers, which one the target gave: how it differs from
/// the real service (and from other servers) without being wrong.
fn choices(out: &mut String, cases: &[&CaseResult]) {
    let chosen: Vec<&&CaseResult> = cases.iter().filter(|c| !c.choices.is_empty()).collect();
    if chosen.is_empty() {
        return;
    }
    out.push_str("<h2 id=\"choices\">The target's choices</h2>\n<p class=\"muted\">Where the spec and the RFCs allow several answers (a list of statuses, alternatives of a case, the real service's choice among others), the one this target gave. None of these is a failure; together they are how this server differs from others.</p>\n<table>\n<tr><th>case</th><th>choice</th></tr>\n");
    for case in chosen {
        for c in &case.choices {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td class=\"w\">{}</td></tr>",
                case_link(&case.id),
                esc(c)
            );
        }
    }
    out.push_str("</table>\n");
}

pub fn render_html(run: &RunResult, gate: &Gate) -> String {
    let cases = sorted_cases(run);
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>qoauth report: {}</title><style>{STYLE}</style></head><body>\n",
        esc(&run.profile)
    );
    let _ = write!(
        out,
        "<h1>Qlik OAuth conformance report</h1>\n<p>Target <code>{}</code> · profile <code>{}</code> · started {}</p>\n",
        esc(&run.target),
        esc(&run.profile),
        esc(&run.started_at)
    );
    gate_section(&mut out, gate);
    figures(&mut out, run);
    summary_tables(&mut out, run);
    matrix(&mut out, run);

    let problems: Vec<&&CaseResult> = cases
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Fail | Verdict::Error | Verdict::Warn))
        .collect();
    let _ = writeln!(
        out,
        "<h2 id=\"problems\">Failures, errors and warnings ({})</h2>",
        problems.len()
    );
    if problems.is_empty() {
        out.push_str("<p>None.</p>\n");
    }
    // Failures first, then errors, then warnings; by id within each.
    let mut problems = problems;
    problems.sort_by(|a, b| {
        severity(b.verdict)
            .cmp(&severity(a.verdict))
            .then_with(|| a.id.cmp(&b.id))
    });
    for case in problems {
        problem(&mut out, case, gate);
    }
    choices(&mut out, &cases);
    observations(&mut out, &cases);
    all_cases(&mut out, &cases, gate);
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::tests::{case, run_of};
    use qoauth_harness::result::{Level, Reference};

    const HOSTILE: &str = r#"<script>alert("x")</script><img src=x onerror='y'>&amp;"#;

    #[test]
    fn hostile_strings_are_escaped_everywhere() {
        let mut c = case("token.x", Level::Must, Verdict::Fail);
        c.title = HOSTILE.into();
        c.reason = Some(HOSTILE.into());
        c.endpoint = HOSTILE.into();
        c.refs.push(Reference {
            doc: HOSTILE.into(),
            section: HOSTILE.into(),
            quote: Some(HOSTILE.into()),
        });
        c.findings[0].expected = HOSTILE.into();
        c.findings[0].actual = HOSTILE.into();
        c.transcript[0].request.target = HOSTILE.into();
        c.transcript[0].response.as_mut().unwrap().body = Some(HOSTILE.into());
        c.records
            .insert(HOSTILE.into(), serde_json::Value::String(HOSTILE.into()));
        c.choices = vec![HOSTILE.into()];
        let mut run = run_of(vec![c]);
        run.target = HOSTILE.into();
        run.profile = HOSTILE.into();
        let html = render_html(
            &run,
            &Gate::evaluate(&run, None, time::macros::date!(2026 - 01 - 01)),
        );
        assert!(!html.contains("<script>"), "raw script tag in report");
        assert!(!html.contains("<img"), "raw img tag in report");
        assert!(!html.contains("onerror='"), "raw attribute in report");
        assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
        assert!(html.contains("&amp;amp;"));
    }

    #[test]
    fn report_is_self_contained() {
        let run = run_of(vec![case("token.a", Level::Must, Verdict::Pass)]);
        let html = render_html(&run, &Gate::default());
        for needle in ["<link", "<script", "src=\"http", "@import", "url("] {
            assert!(!html.contains(needle), "found {needle}");
        }
        assert!(html.contains("<style>"));
    }

    #[test]
    fn matrix_lists_every_clause_with_its_worst_verdict() {
        let mut only_7009 = case("revoke.unknown", Level::Must, Verdict::Pass);
        only_7009.refs = vec![Reference {
            doc: "RFC7009".into(),
            section: "2.2".into(),
            quote: Some("invalid tokens do not cause an error response".into()),
        }];
        let run = run_of(vec![
            case("token.a", Level::Must, Verdict::Pass),
            case("token.b", Level::Should, Verdict::Warn),
            only_7009,
        ]);
        let html = render_html(&run, &Gate::default());
        let start = html.find("id=\"coverage\"").expect("matrix heading");
        let matrix = &html[start..html[start..].find("</table>").unwrap() + start];
        // Spec first, then RFCs by number.
        let spec = matrix.find("POST /oauth/token 401").unwrap();
        let rfc6749 = matrix.find("<td>RFC6749</td><td>5.2").unwrap();
        let rfc7009 = matrix.find("<td>RFC7009</td><td>2.2").unwrap();
        assert!(spec < rfc6749 && rfc6749 < rfc7009);
        let row_6749 = &matrix[rfc6749..rfc6749 + matrix[rfc6749..].find("</tr>").unwrap()];
        assert!(row_6749.contains("v-warn"), "{row_6749}");
        assert!(row_6749.contains("MUST"), "{row_6749}");
        assert!(row_6749.contains("#case-token.a") && row_6749.contains("#case-token.b"));
        let row_7009 = &matrix[rfc7009..rfc7009 + matrix[rfc7009..].find("</tr>").unwrap()];
        assert!(row_7009.contains("v-pass") && row_7009.contains("invalid tokens"));
        assert!(matrix.contains("(3 in all)") || html.contains("(3 in all)"));
    }

    #[test]
    fn problems_carry_findings_and_transcript() {
        let run = run_of(vec![
            case("token.ok", Level::Must, Verdict::Pass),
            case("token.broken", Level::Must, Verdict::Fail),
        ]);
        let html = render_html(
            &run,
            &Gate::evaluate(&run, None, time::macros::date!(2026 - 01 - 01)),
        );
        let start = html
            .find(r#"id="case-token.broken""#)
            .expect("problem block");
        let block = &html[start..start + html[start..].find("</details>").unwrap()];
        assert!(block.contains("status in [400, 401]"));
        assert!(block.contains("<code>cases/token/sample.json:12</code>"));
        assert!(block.contains("<details><summary>Transcript"));
        assert!(block.contains("&gt; POST /oauth/token"));
        assert!(block.contains("&lt; 200"));
        assert!(html.contains("Gate: failed"));
        assert!(html.contains("token.broken: MUST case failed"));
        // Each anchor exists once.
        assert_eq!(html.matches(r#"id="case-token.broken""#).count(), 1);
        assert_eq!(html.matches(r#"id="case-token.ok""#).count(), 1);
    }
}
