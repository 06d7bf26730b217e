//! Which catches name the rule a fault breaks ("on rule").
//!
//! A fault's reference is free text written for people ("RFC 6749 6, 10.4; spec POST
//! /oauth/token 403"); a case or property names its clauses as `doc` + `section` pairs. Both
//! are brought to one form, a [`Clause`]: a document and a path of section components, so
//! that "the same rule" becomes "the same document, and one path a prefix of the other". The
//! prefix goes by whole components, never by characters: `4.1.2` covers `4.1.2.1`, `4.1`
//! does not cover `4.10`.
//!
//! How each document's sections become components:
//! - RFCs (`RFC 6749 4.1.2.1`, `RFC6749`/`4.1.2.1`): the section number split at its dots;
//!   words after the number ("5.2 invalid_scope") are commentary and dropped. A reference
//!   naming a whole RFC ("RFC 6750") names no rule and matches nothing.
//! - `spec` (the OpenAPI document): an operation (`POST /oauth/token`) is one component,
//!   followed by the part named (a status, `requestBody`, `parameters`, `x-qlik-tier`), so
//!   `spec POST /oauth/token` covers all of that operation and `spec POST /oauth/token 400`
//!   only its 400 answer. A part named without its operation ("spec requestBody") stands for
//!   that part of any operation. A schema is one component of its own (`Errors`, `Error`,
//!   `oauth-token-response`; a trailing "schema" is dropped), and a grant-type URN stands
//!   for the request schema that defines it.
//! - `notes` (the behaviour notes): "ambiguity 5" and a case's "Ambiguities 5" are both
//!   `ambiguity`/`5`; a case's "2. Errors" is `2` then the heading. A chapter without a
//!   heading ("notes section 2") names no rule and matches nothing: each chapter is a list
//!   of unrelated rules (token response, scopes, private key JWT, errors, ...), which cases
//!   name by their headings, so matching the chapter would count any side effect.
//! - `harness`: the harness's own rules; a catch that reports a request timing out names
//!   `harness request timeout` (see [`implied`]).
//!
//! Parenthesised commentary is dropped everywhere; documents and components compare without
//! regard to case.

use qoauth_harness::result::Reference;

/// One clause, normalized for matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    /// `rfc6749`, `spec`, `notes`, `oidc`, `harness`, ...
    pub doc: String,
    /// Section components; [`ANY`] matches any one component.
    pub path: Vec<String>,
}

/// The component of a spec clause that names an operation part without its operation.
const ANY: &str = "*";

/// The parts of an operation the spec's references name after it.
const OPERATION_PARTS: &[&str] = &["requestbody", "parameters", "x-qlik-tier", "responses"];

/// Grant-type URNs and the spec schema that defines each request.
const GRANT_SCHEMAS: &[(&str, &str)] = &[
    (
        "urn:qlik:oauth:user-impersonation",
        "oauth-user-impersonation-request",
    ),
    (
        "urn:ietf:params:oauth:grant-type:token-exchange",
        "oauth-token-exchange",
    ),
];

impl Clause {
    /// A clause from a document and a section as a case or property names them.
    pub fn new(doc: &str, section: &str) -> Clause {
        let doc = normalize_doc(doc);
        let section = strip_parentheses(section);
        let path = match doc.as_str() {
            "spec" => spec_path(&section),
            "notes" => notes_path(&section),
            d if d.starts_with("rfc") => rfc_path(&section),
            _ => words(&section).map(str::to_string).collect(),
        };
        Clause { doc, path }
    }

    pub fn of_ref(r: &Reference) -> Clause {
        Clause::new(&r.doc, &r.section)
    }

    /// Whether the clause is narrow enough to name a rule: a whole document ("RFC 6750")
    /// or a whole chapter of the notes ("notes section 2", a chapter of dozens of unrelated
    /// bullets, each of which cases name by its heading) names none.
    pub fn names_a_rule(&self) -> bool {
        match self.path.as_slice() {
            [] => false,
            [chapter] if self.doc == "notes" => !chapter.chars().all(|c| c.is_ascii_digit()),
            _ => true,
        }
    }

    /// Same document, and one path a prefix of the other, component by component; both
    /// narrow enough to name a rule.
    pub fn matches(&self, other: &Clause) -> bool {
        self.names_a_rule()
            && other.names_a_rule()
            && self.doc == other.doc
            && self
                .path
                .iter()
                .zip(&other.path)
                .all(|(a, b)| a == b || any_operation(a, b) || any_operation(b, a))
    }
}

impl std::fmt::Display for Clause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.doc)?;
        if !self.path.is_empty() {
            write!(f, " {}", self.path.join(" / "))?;
        }
        Ok(())
    }
}

/// The clauses of a fault's reference: items separated by `;` or `,`, each opening with
/// its document ("RFC 6749", "spec", "notes", "harness") or, after a comma, a bare section
/// number of the document before it ("RFC 6749 6, 10.4").
pub fn parse_reference(text: &str) -> Vec<Clause> {
    let text = strip_parentheses(text);
    let mut out = Vec::new();
    let mut doc: Option<String> = None;
    for item in text
        .split([';', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let mut w = item.split_whitespace();
        let first = w.next().unwrap_or_default();
        let (d, section) = if first.eq_ignore_ascii_case("rfc") {
            let number = w.next().unwrap_or_default();
            (format!("RFC{number}"), w.collect::<Vec<_>>().join(" "))
        } else if first.starts_with(|c: char| c.is_ascii_digit()) {
            match &doc {
                Some(d) => (d.clone(), item.to_string()),
                None => (first.to_string(), w.collect::<Vec<_>>().join(" ")),
            }
        } else {
            (first.to_string(), w.collect::<Vec<_>>().join(" "))
        };
        out.push(Clause::new(&d, &section));
        doc = Some(d);
    }
    out
}

/// Clauses a catch names by what it reports rather than by its refs: a request that timed
/// out breaks the harness's request timeout, whichever case or property saw it.
pub fn implied(reason: Option<&str>) -> Vec<Clause> {
    if names_timeout(reason) {
        vec![Clause::new("harness", "request timeout")]
    } else {
        Vec::new()
    }
}

/// Whether a reason reports a request that timed out.
pub fn names_timeout(reason: Option<&str>) -> bool {
    reason.is_some_and(|r| {
        let r = r.to_ascii_lowercase();
        r.contains("timed out") || r.contains("timeout")
    })
}

/// Whether any of a catcher's clauses matches any of a fault's.
pub fn on_rule(fault: &[Clause], catcher: &[Clause]) -> bool {
    fault.iter().any(|f| catcher.iter().any(|c| f.matches(c)))
}

/// Whether `wild` is [`ANY`] and `other` an operation (or [`ANY`]): a part named without
/// its operation matches that part of every operation, never a schema.
fn any_operation(wild: &str, other: &str) -> bool {
    wild == ANY && (other == ANY || other.contains(" /"))
}

fn normalize_doc(doc: &str) -> String {
    doc.split_whitespace()
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Drops every `( ... )`, nested or not; an unclosed one runs to the end.
fn strip_parentheses(s: &str) -> String {
    let mut depth = 0usize;
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split_whitespace()
}

/// `4.1.2.1` -> `4`,`1`,`2`,`1`; `B` (an appendix) -> `b`; trailing words dropped.
fn rfc_path(section: &str) -> Vec<String> {
    words(section)
        .next()
        .map(|n| {
            n.trim_end_matches('.')
                .split('.')
                .map(str::to_ascii_lowercase)
                .collect()
        })
        .unwrap_or_default()
}

fn is_method(w: &str) -> bool {
    matches!(
        w.to_ascii_uppercase().as_str(),
        "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS"
    )
}

fn is_status(w: &str) -> bool {
    w.len() == 3 && w.chars().all(|c| c.is_ascii_digit())
}

fn spec_path(section: &str) -> Vec<String> {
    let w: Vec<&str> = words(section).collect();
    let lower = |s: &&str| s.to_ascii_lowercase();
    match w.as_slice() {
        [] => Vec::new(),
        [m, p, rest @ ..] if is_method(m) && p.starts_with('/') => {
            let mut v = vec![format!(
                "{} {}",
                m.to_ascii_uppercase(),
                p.to_ascii_lowercase()
            )];
            v.extend(rest.iter().map(lower));
            v
        }
        [part, ..] if is_status(part) || OPERATION_PARTS.contains(&lower(part).as_str()) => {
            let mut v = vec![ANY.to_string()];
            v.extend(w.iter().map(lower));
            v
        }
        [name, rest @ ..] => {
            let name = lower(name);
            let name = GRANT_SCHEMAS
                .iter()
                .find(|(urn, _)| *urn == name)
                .map_or(name.clone(), |(_, schema)| schema.to_string());
            let mut v = vec![name];
            v.extend(
                rest.iter()
                    .map(lower)
                    .filter(|r| r != "schema" && r != "schemas"),
            );
            v
        }
    }
}

fn notes_path(section: &str) -> Vec<String> {
    let lower = section.trim().to_ascii_lowercase();
    let w: Vec<&str> = lower.split_whitespace().collect();
    match w.as_slice() {
        [a, n, ..] if matches!(*a, "ambiguity" | "ambiguities") => {
            vec!["ambiguity".into(), n.trim_end_matches('.').to_string()]
        }
        ["section", n, ..] => vec![n.trim_end_matches('.').to_string()],
        [n, rest @ ..] if n.trim_end_matches('.').chars().all(|c| c.is_ascii_digit()) => {
            let mut v = vec![n.trim_end_matches('.').to_string()];
            if !rest.is_empty() {
                v.push(rest.join(" "));
            }
            v
        }
        _ => vec![w.join(" ")],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(doc: &str, section: &str) -> Clause {
        Clause::new(doc, section)
    }

    #[test]
    fn references_split_into_clauses_carrying_the_document() {
        let got: Vec<String> = parse_reference("RFC 6749 6, 10.4; spec POST /oauth/token 403")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            got,
            [
                "rfc6749 6",
                "rfc6749 10 / 4",
                "spec POST /oauth/token / 403"
            ]
        );
        let got = parse_reference("RFC 6749 5.2 invalid_scope; notes ambiguity 5 (S256 only)");
        assert_eq!(got, vec![c("RFC6749", "5.2"), c("notes", "Ambiguities 5")]);
        let got = parse_reference("RFC 6749 2.3 (a, b), RFC 6750");
        assert_eq!(got, vec![c("RFC6749", "2.3"), c("RFC6750", "")]);
    }

    #[test]
    fn rfc_sections_match_by_whole_components() {
        assert!(c("RFC6749", "4.1.2").matches(&c("RFC6749", "4.1.2.1")));
        assert!(c("RFC6749", "4.1.2.1").matches(&c("RFC6749", "4.1.2")));
        assert!(!c("RFC6749", "4.1").matches(&c("RFC6749", "4.10")));
        assert!(!c("RFC6749", "4.1.2").matches(&c("RFC9700", "4.1.2")));
        assert!(!c("RFC6750", "").matches(&c("RFC6750", "2.1")));
    }

    #[test]
    fn spec_references_match_by_operation_then_part() {
        let fault = parse_reference("spec GET /oauth/authorize 400");
        assert!(on_rule(&fault, &[c("spec", "GET /oauth/authorize 400")]));
        assert!(!on_rule(&fault, &[c("spec", "GET /oauth/authorize 302")]));
        assert!(!on_rule(&fault, &[c("spec", "POST /oauth/token 400")]));
        let body = parse_reference("spec requestBody application/json");
        assert!(on_rule(
            &body,
            &[c("spec", "POST /oauth/token requestBody")]
        ));
        assert!(!on_rule(&body, &[c("spec", "POST /oauth/token 400")]));
        assert!(!on_rule(&body, &[c("spec", "Errors")]));
        let schema = parse_reference("spec Error schema (status: string)");
        assert!(on_rule(&schema, &[c("spec", "Error")]));
        assert!(!on_rule(&schema, &[c("spec", "Errors")]));
        let urn = parse_reference("spec urn:qlik:oauth:user-impersonation");
        assert!(on_rule(
            &urn,
            &[c("spec", "oauth-user-impersonation-request")]
        ));
    }

    #[test]
    fn notes_references_match_by_ambiguity_or_section() {
        let fault = parse_reference("notes ambiguity 5 (S256 only)");
        assert!(on_rule(&fault, &[c("notes", "Ambiguities 5")]));
        assert!(!on_rule(&fault, &[c("notes", "Ambiguities 15")]));
        let chapter = parse_reference("notes section 2 (clients throw on errors)");
        assert_eq!(chapter, vec![c("notes", "2")]);
        assert!(!on_rule(&chapter, &[c("notes", "2. Errors")]));
        let heading = [c("notes", "2. Errors")];
        assert!(on_rule(&heading, &[c("notes", "2. Errors")]));
        assert!(!on_rule(&heading, &[c("notes", "2. Private key JWT")]));
    }

    #[test]
    fn a_timeout_names_the_harness_request_timeout() {
        let fault = parse_reference("spec x-qlik-tier; harness request timeout");
        assert!(on_rule(
            &fault,
            &implied(Some("request timed out after 1.5 s"))
        ));
        assert!(!on_rule(&fault, &implied(Some("expected 200, saw 500"))));
        assert!(!on_rule(&fault, &implied(None)));
    }
}
