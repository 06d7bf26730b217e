//! Judging observations: expectations and matchers produce findings (expected vs actual),
//! captures and records pull values out, and the case level turns findings into a verdict.

use crate::cases::{Capture, Expect, Matcher, Step};
use crate::result::{Finding, Level, Verdict};
use crate::template::{Bindings, TemplateError};
use serde_json::Value;
use std::collections::BTreeMap;

/// One response as the engine saw it, before redaction.
#[derive(Debug, Clone)]
pub struct Observed {
    pub status: u16,
    /// Lower-case names, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The URL the request went to, to resolve a relative `Location`.
    pub url: url::Url,
}

/// Why a response body is not the JSON a matcher or capture reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotJson {
    Empty,
    /// The parser's message.
    Malformed(String),
}

impl std::fmt::Display for NotJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotJson::Empty => f.write_str("the body is empty"),
            NotJson::Malformed(e) => write!(f, "the body is not JSON ({e})"),
        }
    }
}

impl std::error::Error for NotJson {}

impl Observed {
    /// All values of a header joined with ", ", as HTTP allows.
    pub fn header(&self, name: &str) -> Option<String> {
        let name = name.to_ascii_lowercase();
        let vals: Vec<&str> = self
            .headers
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .collect();
        if vals.is_empty() {
            None
        } else {
            Some(vals.join(", "))
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Result<Value, NotJson> {
        serde_json::from_slice(&self.body).map_err(|e| {
            if self.body.is_empty() {
                NotJson::Empty
            } else {
                NotJson::Malformed(e.to_string())
            }
        })
    }

    pub fn location(&self) -> Option<url::Url> {
        let l = self.header("location")?;
        self.url.join(&l).ok()
    }

    /// First value of a parameter of the Location's query.
    pub fn location_param(&self, name: &str) -> Option<String> {
        let u = self.location()?;
        let v = u
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned());
        v
    }
}

/// Where an observed value came from: JSON keeps its types, text sources are strings.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Json,
    Text,
}

/// Values are shown whole here; findings are shortened only after redaction, so a cut
/// can never leave half a secret behind.
fn show(v: &Value) -> String {
    v.to_string()
}

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn loose_eq(expected: &Value, actual: &Value, src: Source) -> bool {
    if expected == actual {
        return true;
    }
    if let (Value::Number(a), Value::Number(b)) = (expected, actual) {
        return a.as_f64() == b.as_f64();
    }
    if src == Source::Text {
        if let Value::String(a) = actual {
            return match expected {
                Value::String(e) => e == a,
                other => a.as_str() == other.to_string().as_str(),
            };
        }
    }
    false
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Checks a matcher against a value (`None` = absent). Returns (expected, actual) for
/// every property that does not hold.
fn check_matcher(
    what: &str,
    m: &Matcher,
    actual: Option<&Value>,
    src: Source,
    b: &Bindings,
) -> Result<Vec<(String, String)>, TemplateError> {
    let mut out = Vec::new();
    let mut fail = |exp: String, act: String| out.push((format!("{what} {exp}"), act));
    let Some(actual) = actual else {
        let wants_absent = m.absent == Some(true) || m.present == Some(false);
        if !wants_absent {
            fail("present".into(), "absent".into());
        }
        return Ok(out);
    };
    let shown = show(actual);
    if m.absent == Some(true) || m.present == Some(false) {
        fail("absent".into(), shown.clone());
    }
    if let Some(e) = &m.equals {
        let e = b.render(e)?;
        if !loose_eq(&e, actual, src) {
            fail(format!("equals {}", show(&e)), shown.clone());
        }
    }
    if let Some(e) = &m.not_equals {
        let e = b.render(e)?;
        if loose_eq(&e, actual, src) {
            fail(format!("not_equals {}", show(&e)), shown.clone());
        }
    }
    if let Some(e) = &m.equals_ci {
        let e = b.render_text(e)?;
        let ok = matches!(actual, Value::String(a) if a.eq_ignore_ascii_case(&e));
        if !ok {
            fail(
                format!("equals_ci {}", show(&Value::String(e))),
                shown.clone(),
            );
        }
    }
    if let Some(list) = &m.one_of {
        let list: Vec<Value> = list.iter().map(|x| b.render(x)).collect::<Result<_, _>>()?;
        if !list.iter().any(|e| loose_eq(e, actual, src)) {
            fail(
                format!("one_of {}", show(&Value::Array(list))),
                shown.clone(),
            );
        }
    }
    let contains = |needle: &str| -> bool {
        match actual {
            Value::String(s) => s.contains(needle),
            Value::Array(a) => a.iter().any(|x| x.as_str() == Some(needle)),
            Value::Object(o) => o.contains_key(needle),
            other => other.to_string().contains(needle),
        }
    };
    if let Some(c) = &m.contains {
        let c = b.render_text(c)?;
        if !contains(&c) {
            fail(
                format!("contains {}", show(&Value::String(c))),
                shown.clone(),
            );
        }
    }
    if let Some(nc) = &m.not_contains {
        for item in nc.items() {
            let item = b.render_text(item)?;
            if contains(&item) {
                fail(
                    format!("not_contains {}", show(&Value::String(item))),
                    shown.clone(),
                );
            }
        }
    }
    if let Some(re) = &m.matches {
        let re_text = b.render_text(re)?;
        match regex::Regex::new(&re_text) {
            Ok(r) => {
                if !r.is_match(&as_text(actual)) {
                    fail(format!("matches /{re_text}/"), shown.clone());
                }
            }
            Err(e) => fail(
                format!("matches /{re_text}/"),
                format!("bad regular expression: {e}"),
            ),
        }
    }
    if let Some(t) = &m.type_ {
        let actual_type = type_of(actual);
        let ok = match t.as_str() {
            "number" => matches!(actual, Value::Number(_)),
            "integer" => match actual {
                Value::Number(n) => {
                    n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
                }
                _ => false,
            },
            other => actual_type == other,
        };
        if !ok {
            fail(format!("type {t}"), format!("{actual_type} {shown}"));
        }
    }
    let length = match actual {
        Value::String(s) => Some(s.chars().count() as i64),
        Value::Array(a) => Some(a.len() as i64),
        Value::Object(o) => Some(o.len() as i64),
        _ => None,
    };
    if let Some(min) = m.min_length {
        if length.is_none_or(|l| l < min) {
            fail(
                format!("min_length {min}"),
                format!(
                    "length {} of {shown}",
                    length.map_or("n/a".into(), |l| l.to_string())
                ),
            );
        }
    }
    if let Some(max) = m.max_length {
        if length.is_none_or(|l| l > max) {
            fail(
                format!("max_length {max}"),
                format!(
                    "length {} of {shown}",
                    length.map_or("n/a".into(), |l| l.to_string())
                ),
            );
        }
    }
    let number = match actual {
        Value::Number(n) => n.as_f64(),
        Value::String(s) if src == Source::Text => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    if let Some(min) = m.min {
        if number.is_none_or(|n| n < min) {
            fail(format!("min {min}"), shown.clone());
        }
    }
    if let Some(max) = m.max {
        if number.is_none_or(|n| n > max) {
            fail(format!("max {max}"), shown.clone());
        }
    }
    Ok(out)
}

/// Checks one response against a step's `expect`.
///
/// `at` is the expectation's JSON pointer within its case (`/steps/2/expect`); each finding
/// carries the pointer of the matcher that failed, which the run turns into a file and line.
pub fn check_expect(
    step: &str,
    e: &Expect,
    obs: &Observed,
    b: &Bindings,
    at: &str,
) -> Result<Vec<Finding>, TemplateError> {
    let mut findings = Vec::new();
    let mut push = |pointer: String, pairs: Vec<(String, String)>| {
        for (expected, actual) in pairs {
            findings.push(Finding {
                step: step.to_string(),
                expected,
                actual,
                at: Some(pointer.clone()),
            });
        }
    };
    if let Some(s) = &e.status {
        if !s.contains(obs.status) {
            let snippet = obs.text();
            push(
                format!("{at}/status"),
                vec![(
                    s.to_string(),
                    if snippet.is_empty() {
                        format!("status {}", obs.status)
                    } else {
                        format!("status {} with body {snippet}", obs.status)
                    },
                )],
            );
        }
    }
    for (name, m) in &e.headers {
        let v = obs.header(name).map(Value::String);
        push(
            format!("{at}/headers/{}", escape(name)),
            check_matcher(
                &format!("header {}", name.to_ascii_lowercase()),
                m,
                v.as_ref(),
                Source::Text,
                b,
            )?,
        );
    }
    let json = if e.schema.is_some() || !e.json.is_empty() {
        Some(obs.json())
    } else {
        None
    };
    if let Some(name) = &e.schema {
        match json.as_ref().expect("parsed above") {
            Err(why) => push(
                format!("{at}/schema"),
                vec![(format!("body matches schema {name}"), why.to_string())],
            ),
            Ok(doc) => {
                if let Err(errs) = crate::spec::check(name, doc) {
                    push(
                        format!("{at}/schema"),
                        vec![(format!("body matches schema {name}"), errs.join("; "))],
                    );
                }
            }
        }
    }
    for (pointer, m) in e.json.iter() {
        let here = format!("{at}/json/{}", escape(pointer));
        match json.as_ref().expect("parsed above") {
            Err(why) => push(
                here,
                vec![(format!("{pointer} (JSON body)"), why.to_string())],
            ),
            Ok(doc) => push(
                here,
                check_matcher(pointer, m, doc.pointer(pointer), Source::Json, b)?,
            ),
        }
    }
    if let Some(l) = &e.location {
        let loc = obs.header("location");
        if let Some(uri) = &l.redirect_uri {
            let uri = b.render_text(uri)?;
            let ok = loc.as_deref().is_some_and(|l| {
                l == uri
                    || (l.starts_with(&uri)
                        && matches!(
                            l.as_bytes().get(uri.len()),
                            Some(b'?') | Some(b'&') | Some(b'#')
                        ))
            });
            if !ok {
                push(
                    format!("{at}/location/redirect_uri"),
                    vec![(
                        format!("Location is {uri} plus a query"),
                        loc.clone()
                            .map_or(format!("no Location (status {})", obs.status), |l| {
                                format!("Location {l}")
                            }),
                    )],
                );
            }
        }
        if let Some(uri) = &l.not_redirect_uri {
            let uri = b.render_text(uri)?;
            if let Some(lv) = loc.as_deref().filter(|lv| lv.starts_with(&uri)) {
                push(
                    format!("{at}/location/not_redirect_uri"),
                    vec![(
                        format!("Location does not start with {uri}"),
                        format!("Location {lv}"),
                    )],
                );
            }
        }
        for (param, m) in &l.query {
            let v = obs.location_param(param).map(Value::String);
            push(
                format!("{at}/location/query/{}", escape(param)),
                check_matcher(
                    &format!("Location query {param}"),
                    m,
                    v.as_ref(),
                    Source::Text,
                    b,
                )?,
            );
        }
    }
    if let Some(m) = &e.body {
        let v = Value::String(obs.text());
        push(
            format!("{at}/body"),
            check_matcher("body", m, Some(&v), Source::Text, b)?,
        );
    }
    if !e.any_of.is_empty() {
        push(
            format!("{at}/any_of"),
            check_alternatives(step, &e.any_of, obs, b, at)?,
        );
    }
    Ok(findings)
}

/// `any_of`: nothing when one alternative holds; otherwise one finding that lists what
/// each alternative expected and what the answer missed of the first.
fn check_alternatives(
    step: &str,
    alternatives: &[Expect],
    obs: &Observed,
    b: &Bindings,
    at: &str,
) -> Result<Vec<(String, String)>, TemplateError> {
    let mut missed = Vec::with_capacity(alternatives.len());
    for (k, alternative) in alternatives.iter().enumerate() {
        let findings = check_expect(step, alternative, obs, b, &format!("{at}/any_of/{k}"))?;
        if findings.is_empty() {
            return Ok(Vec::new());
        }
        missed.push(findings);
    }
    let expected = missed
        .iter()
        .map(|fs| {
            fs.iter()
                .map(|f| f.expected.as_str())
                .collect::<Vec<_>>()
                .join(" and ")
        })
        .collect::<Vec<_>>()
        .join("; or ");
    let actual = missed
        .first()
        .and_then(|fs| fs.first())
        .map(|f| f.actual.clone())
        .unwrap_or_default();
    Ok(vec![(format!("one of: {expected}"), actual)])
}

/// Which of the answers a clause allows the target gave, when the expectation allowed more
/// than one (a list of statuses, or `any_of` alternatives) and the answer met it: the
/// target's choice, for the report's profile of choices. `None` when there was no choice.
pub fn choice(step: &str, e: &Expect, obs: &Observed, b: &Bindings) -> Option<String> {
    if !e.any_of.is_empty() {
        let n = e.any_of.len();
        for (i, alternative) in e.any_of.iter().enumerate() {
            if check_expect(step, alternative, obs, b, "").is_ok_and(|f| f.is_empty()) {
                let what = alternative
                    .status
                    .as_ref()
                    .map_or(String::new(), |s| format!(" ({s})"));
                return Some(format!(
                    "{step}: status {}, answer {} of {n}{what}",
                    obs.status,
                    i + 1
                ));
            }
        }
        return None;
    }
    match &e.status {
        Some(s @ crate::cases::StatusSet::Many(v)) if v.len() > 1 && s.contains(obs.status) => {
            Some(format!("{step}: status {} of the allowed {s}", obs.status))
        }
        _ => None,
    }
}

/// A key as one JSON pointer segment (RFC 6901 5).
fn escape(key: &str) -> String {
    crate::cases::escape_pointer(key)
}

/// For repeated steps: how many responses had each status.
/// `at` is the step's pointer within its case (`/steps/2`).
pub fn check_counts(
    step: &str,
    counts: &BTreeMap<String, Matcher>,
    statuses: &[u16],
    b: &Bindings,
    at: &str,
) -> Result<Vec<Finding>, TemplateError> {
    let mut findings = Vec::new();
    for (status, m) in counts {
        let n = statuses.iter().filter(|s| s.to_string() == *status).count();
        for (expected, actual) in check_matcher(
            &format!("count of status {status}"),
            m,
            Some(&Value::from(n)),
            Source::Json,
            b,
        )? {
            let mut seen: BTreeMap<u16, usize> = BTreeMap::new();
            for s in statuses {
                *seen.entry(*s).or_default() += 1;
            }
            let dist: Vec<String> = seen.iter().map(|(s, c)| format!("{s}x{c}")).collect();
            findings.push(Finding {
                step: step.to_string(),
                expected,
                actual: format!("{actual} (statuses: {})", dist.join(", ")),
                at: Some(format!("{at}/expect_count/{}", escape(status))),
            });
        }
    }
    Ok(findings)
}

/// Values the step captures for later steps; a missing one is a finding.
pub fn captures(
    step_label: &str,
    step: &Step,
    obs: &Observed,
) -> (Vec<(String, Value)>, Vec<Finding>) {
    let mut out = Vec::new();
    let mut findings = Vec::new();
    for (name, c) in &step.capture {
        let (what, v) = match c {
            Capture::Json(p) => (
                format!("{p} in the JSON body"),
                obs.json().ok().and_then(|d| d.pointer(p).cloned()),
            ),
            Capture::Header(h) => (format!("header {h}"), obs.header(h).map(Value::String)),
            Capture::LocationQuery(q) => (
                format!("Location query {q}"),
                obs.location_param(q).map(Value::String),
            ),
            Capture::Status(_) => ("status".into(), Some(Value::from(obs.status))),
        };
        match v {
            Some(v) => out.push((name.clone(), v)),
            None if step.capture_optional => {}
            None => findings.push(Finding {
                step: step_label.to_string(),
                expected: format!("capture {name} from {what}"),
                actual: format!("absent (status {})", obs.status),
                // Relative to the step: the caller knows which step this is.
                at: Some(format!("/capture/{}", escape(name))),
            }),
        }
    }
    (out, findings)
}

/// The values `record` keeps for the snapshot.
pub fn records(step: &Step, obs: &Observed) -> Vec<(String, Value)> {
    step.record
        .iter()
        .map(|r| {
            let v = if let Some(h) = r.strip_prefix("header:") {
                obs.header(h).map(Value::String)
            } else if let Some(p) = r.strip_prefix("location:") {
                obs.location_param(p).map(Value::String)
            } else {
                obs.json().ok().and_then(|d| d.pointer(r).cloned())
            };
            (r.clone(), v.unwrap_or(Value::Null))
        })
        .collect()
}

/// The verdict findings earn at a level (errors and skips are decided before this).
pub fn verdict_for(level: Level, findings: &[Finding]) -> Verdict {
    match level {
        Level::May | Level::Info => Verdict::Info,
        _ if findings.is_empty() => Verdict::Pass,
        Level::Must => Verdict::Fail,
        Level::Should => Verdict::Warn,
    }
}

/// The one-line reason a person acts on.
pub fn reason_for(findings: &[Finding]) -> Option<String> {
    let f = findings.first()?;
    let more = if findings.len() > 1 {
        format!(" (+{} more)", findings.len() - 1)
    } else {
        String::new()
    };
    Some(format!(
        "{}: expected {}, got {}{more}",
        f.step, f.expected, f.actual
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A matcher from its case-format JSON, as a case file would write it.
    fn matcher(v: Value) -> Matcher {
        serde_json::from_value(v).expect("a matcher")
    }

    /// Each row: the matcher, the observed value (`None`: absent) and whether it holds.
    /// One row per rule, with the edge each rule has (case, type, bounds, templates).
    #[test]
    fn every_matcher_rule_holds_exactly_where_it_should() {
        let profile = crate::profile::reference_profile().expect("reference profile");
        let mut b = Bindings::new(&profile);
        b.vars.insert("state".into(), json!("abc"));
        let table: Vec<(Value, Option<Value>, bool)> = vec![
            (json!({"present": true}), Some(json!(1)), true),
            (json!({"present": true}), None, false),
            (json!({"absent": true}), None, true),
            (json!({"absent": true}), Some(json!(null)), false),
            (json!({"equals": 400}), Some(json!(400)), true),
            (json!({"equals": 400}), Some(json!("400")), false),
            (json!({"equals": "{{state}}"}), Some(json!("abc")), true),
            (
                json!({"not_equals": "{{state}}"}),
                Some(json!("abc")),
                false,
            ),
            (json!({"equals_ci": "Bearer"}), Some(json!("bearer")), true),
            (
                json!({"equals_ci": "Bearer"}),
                Some(json!("bearer ")),
                false,
            ),
            (json!({"one_of": ["a", "b"]}), Some(json!("b")), true),
            (json!({"one_of": ["a", "b"]}), Some(json!("c")), false),
            (
                json!({"contains": "no-store"}),
                Some(json!("private, no-store")),
                true,
            ),
            (json!({"contains": "x"}), Some(json!({"x": 1})), true),
            (
                json!({"not_contains": ["admin", "root"]}),
                Some(json!("user root")),
                false,
            ),
            (
                json!({"not_contains": "admin"}),
                Some(json!("user_default")),
                true,
            ),
            (json!({"matches": "^[a-z]+$"}), Some(json!("abc")), true),
            (json!({"matches": "^[a-z]+$"}), Some(json!("ab1")), false),
            (json!({"type": "string"}), Some(json!("s")), true),
            (json!({"type": "number"}), Some(json!("1")), false),
            (json!({"type": "integer"}), Some(json!(1.5)), false),
            (json!({"min_length": 3}), Some(json!("abc")), true),
            (json!({"min_length": 3}), Some(json!("ab")), false),
            (json!({"max_length": 1}), Some(json!(["a", "b"])), false),
            (json!({"min": 1}), Some(json!(0)), false),
            (json!({"min": 1, "max": 2}), Some(json!(2)), true),
            (json!({"max": 2}), Some(json!(2.5)), false),
        ];
        for (m, actual, holds) in table {
            let found = check_matcher("v", &matcher(m.clone()), actual.as_ref(), Source::Json, &b)
                .expect("the matcher evaluates");
            assert_eq!(found.is_empty(), holds, "{m} on {actual:?}: {found:?}");
        }
    }

    /// A failing expectation names the pointer of the matcher that failed, and an
    /// `any_of` that no alternative meets is one finding at the `any_of`.
    #[test]
    fn findings_carry_the_pointer_of_their_matcher() {
        let profile = crate::profile::reference_profile().expect("reference profile");
        let b = Bindings::new(&profile);
        let obs = Observed {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: br#"{"scope":"a"}"#.to_vec(),
            url: "http://127.0.0.1/oauth/token".parse().unwrap(),
        };
        let e: Expect = serde_json::from_value(json!({
            "status": 200,
            "json": {"/scope": {"equals": "b"}},
            "headers": {"cache-control": {"contains": "no-store"}}
        }))
        .unwrap();
        let f = check_expect("s", &e, &obs, &b, "/steps/1/expect").unwrap();
        let at: Vec<_> = f.iter().map(|f| f.at.clone().unwrap()).collect();
        assert_eq!(
            at,
            [
                "/steps/1/expect/headers/cache-control",
                "/steps/1/expect/json/~1scope"
            ]
        );
        let e: Expect =
            serde_json::from_value(json!({"any_of": [{"status": 400}, {"status": 401}]})).unwrap();
        let f = check_expect("s", &e, &obs, &b, "/steps/0/expect").unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].at.as_deref(), Some("/steps/0/expect/any_of"));
        assert!(
            f[0].expected
                .starts_with("one of: status 400; or status 401"),
            "{f:?}"
        );
    }
}
