//! Escaping and plain-text rendering shared by the writers. Every string in a result came
//! from a target, so every writer treats it as hostile.

use qoauth_harness::result::{CaseResult, Exchange};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The most of one body a human-facing report shows; bodies past it are cut with a note,
/// so one oversized response cannot make a report unreadable. results.json keeps them whole.
pub(crate) const BODY_DISPLAY_LIMIT: usize = 16 * 1024;

pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Makes a string safe inside one Markdown table cell: one line, no pipes, and no character
/// that Markdown or the HTML that CI pages allow inside it would interpret.
pub(crate) fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' | '\n' | '\t' => out.push(' '),
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '!' | '~' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Cuts `s` to at most `limit` bytes on a character boundary, saying how much was left out.
pub(crate) fn clip(s: &str, limit: usize) -> String {
    if s.len() <= limit {
        return s.to_owned();
    }
    let mut end = limit;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n[... {} more bytes not shown]",
        &s[..end],
        s.len() - end
    )
}

/// One line for consoles and tables: the first line of `s`, at most `limit` characters.
pub(crate) fn one_line(s: &str, limit: usize) -> String {
    let line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let line = line.trim();
    if line.chars().count() <= limit {
        line.to_owned()
    } else {
        let cut: String = line.chars().take(limit.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

fn write_headers(out: &mut String, headers: &BTreeMap<String, String>) {
    for (name, value) in headers {
        let _ = writeln!(out, "{name}: {value}");
    }
}

/// A transcript as an HTTP-like text dump, bodies clipped.
pub(crate) fn transcript_text(exchanges: &[Exchange]) -> String {
    let mut out = String::new();
    for (i, ex) in exchanges.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let timing = ex
            .elapsed_ms
            .map(|ms| format!(" ({ms:.1} ms)"))
            .unwrap_or_default();
        let times = if ex.times > 1 {
            format!(" (x{}, identical)", ex.times)
        } else {
            String::new()
        };
        let _ = writeln!(out, "### step {}{timing}{times}", ex.step);
        let _ = writeln!(out, "> {} {}", ex.request.method, ex.request.target);
        write_headers(&mut out, &ex.request.headers);
        if let Some(body) = &ex.request.body {
            out.push('\n');
            out.push_str(&clip(body, BODY_DISPLAY_LIMIT));
            out.push('\n');
        }
        match (&ex.response, &ex.transport_error) {
            (Some(resp), _) => {
                let _ = writeln!(out, "< {}", resp.status);
                write_headers(&mut out, &resp.headers);
                if let Some(body) = &resp.body {
                    out.push('\n');
                    out.push_str(&clip(body, BODY_DISPLAY_LIMIT));
                    out.push('\n');
                }
            }
            (None, Some(err)) => {
                let _ = writeln!(out, "< no response: {err}");
            }
            (None, None) => {
                let _ = writeln!(out, "< no response");
            }
        }
    }
    out
}

/// The findings of a case as `step: expected ... / actual ...` lines.
pub(crate) fn findings_text(case: &CaseResult) -> String {
    let mut out = String::new();
    for f in &case.findings {
        let at =
            f.at.as_deref()
                .map_or(String::new(), |at| format!(" (at {at})"));
        let _ = writeln!(
            out,
            "step {}: expected {}; actual {}{at}",
            f.step, f.expected, f.actual
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escape_neutralises_markup() {
        assert_eq!(
            html_escape(r#"<script>alert('x')</script>&"q""#),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;q&quot;"
        );
    }

    #[test]
    fn md_escape_keeps_a_cell_on_one_line() {
        let s = md_escape("a|b\nc <img src=x> `code` [l](u)");
        assert!(!s.contains('\n'));
        assert!(!s.contains('<'));
        assert!(s.contains(r"a\|b"));
        assert!(s.contains(r"\[l\]\(u\)"));
    }

    #[test]
    fn clip_cuts_on_char_boundary() {
        let s = "é".repeat(10); // 20 bytes
        let c = clip(&s, 5);
        assert!(c.starts_with("éé"));
        assert!(c.contains("16 more bytes"));
        assert_eq!(clip("short", 10), "short");
    }

    #[test]
    fn one_line_truncates_and_flattens() {
        assert_eq!(one_line("a\nb", 10), "a b");
        assert_eq!(one_line("abcdefghij", 5), "abcd…");
    }
}
