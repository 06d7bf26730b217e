//! Redaction and normalization. Every secret of the profile, every token, code, state,
//! verifier, assertion, cookie and Authorization value is replaced by a placeholder that
//! is stable across runs (`<access_token#1>`: kind and order of first appearance within
//! the case), and timestamps and random values are normalized, so the same behaviour
//! gives byte-identical snapshots and nothing sensitive reaches a report.

use crate::exec::RawExchange;
use crate::profile::Profile;
use crate::result::{Exchange, RecordedRequest, RecordedResponse};
use regex::Regex;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

/// Body fields whose values are credentials or single-use secrets.
pub const SENSITIVE_FIELDS: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "code",
    "client_secret",
    "client_assertion",
    "subject_token",
    "actor_token",
    "token",
    "code_verifier",
    "code_challenge",
    "state",
    "assertion",
    "password",
    "session",
    "session_id",
];

/// Body fields holding per-request random identifiers: not secret, but they differ on
/// every run, so they get numbered placeholders too.
const RANDOM_ID_FIELDS: &[&str] = &[
    "traceId",
    "trace_id",
    "requestId",
    "request_id",
    "jti",
    "correlationId",
];

/// Body fields holding clock readings.
const TIME_FIELDS: &[&str] = &["expires_at", "iat", "exp", "nbf", "auth_time", "issued_at"];

/// Body fields holding lifetimes in seconds, rounded to the minute in transcripts.
const DURATION_FIELDS: &[&str] = &[
    "expires_in",
    "refresh_token_expires_in",
    "refresh_expires_in",
];

/// Response headers that carry clock readings or counters that move between runs.
const VOLATILE_HEADERS: &[&str] = &[
    "date",
    "retry-after",
    "age",
    "expires",
    "last-modified",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "ratelimit-remaining",
    "ratelimit-reset",
    "ratelimit",
];

/// Headers dropped from transcripts: they restate the body or the connection.
const DROPPED_HEADERS: &[&str] = &[
    "content-length",
    "connection",
    "keep-alive",
    "transfer-encoding",
];

/// Longest body text kept in a transcript.
pub const MAX_TRANSCRIPT_BODY: usize = 4096;

fn patterns() -> &'static [(Regex, &'static str, bool)] {
    static P: OnceLock<Vec<(Regex, &'static str, bool)>> = OnceLock::new();
    P.get_or_init(|| {
        let re = |s: &str| Regex::new(s).expect("static pattern");
        vec![
            // (pattern, kind, numbered)
            (re(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*"), "jwt", true),
            (re(r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "uuid", true),
            (re(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?"), "timestamp", false),
            (re(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2}[ -][A-Z][a-z]{2}[ -]\d{4} \d{2}:\d{2}:\d{2} GMT"), "http-date", false),
            // Waits and remaining times in messages ("wait 44 seconds") move with the clock.
            (re(r"\b\d+ (seconds?|minutes?)\b"), "n", false),
            // Unix seconds between 2017 and 2047: clock readings, not data.
            (re(r"\b(1[5-9]|2[0-4])\d{8}\b"), "unix_time", false),
        ]
    })
}

fn high_entropy() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| Regex::new(r"[A-Za-z0-9_\-.~]{20,}").expect("static pattern"))
}

/// Whether a run of characters looks generated (letters and digits mixed, not a word).
fn looks_random(s: &str) -> bool {
    let hex = s.bytes().all(|b| b.is_ascii_hexdigit());
    if s.len() >= 16 && hex && s.bytes().filter(u8::is_ascii_digit).count() >= 6 {
        return true;
    }
    let digits = s.bytes().filter(u8::is_ascii_digit).count();
    let letters = s.bytes().filter(u8::is_ascii_alphabetic).count();
    let upper = s.bytes().filter(u8::is_ascii_uppercase).count();
    let lower = s.bytes().filter(u8::is_ascii_lowercase).count();
    (digits >= 3 && letters >= 3) || (upper >= 3 && lower >= 3 && !s.contains('.'))
}

/// Placeholders for one case (or one dry-run plan), numbered in order of appearance.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// value -> placeholder
    known: HashMap<String, String>,
    /// Insertion order, so replacement and numbering are deterministic.
    order: Vec<String>,
    counters: HashMap<String, usize>,
    base_url: Option<String>,
}

impl Redactor {
    /// Starts with the profile's secrets (named placeholders) and its base URL.
    pub fn for_profile(profile: &crate::profile::Profile) -> Redactor {
        let mut r = Redactor::default();
        for (name, value) in profile.secrets() {
            r.insert_named(&value, &format!("<{name}>"));
        }
        r.base_url = Some(profile.base().to_string());
        r
    }

    /// Leaves the target's URL readable (a dry-run listing names where requests go).
    pub fn keep_base_url(mut self) -> Redactor {
        self.base_url = None;
        self
    }

    fn insert_named(&mut self, value: &str, placeholder: &str) {
        if value.len() < 4 || self.known.contains_key(value) {
            return;
        }
        self.known
            .insert(value.to_string(), placeholder.to_string());
        self.order.push(value.to_string());
        // The same value travels percent-encoded in queries and forms.
        let enc = crate::template::form_encode(value);
        if enc != value && !self.known.contains_key(&enc) {
            self.known.insert(enc.clone(), placeholder.to_string());
            self.order.push(enc);
        }
    }

    /// Registers a sensitive value; returns its placeholder (the existing one if known).
    pub fn register(&mut self, kind: &str, value: &str) -> String {
        if let Some(p) = self.known.get(value) {
            return p.clone();
        }
        let n = self.counters.entry(kind.to_string()).or_insert(0);
        *n += 1;
        let placeholder = format!("<{kind}#{n}>");
        if value.len() >= 4 {
            self.insert_named(value, &placeholder);
        }
        placeholder
    }

    /// Every raw value registered so far (for tests that prove none leaked).
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(String::as_str)
    }

    /// Registers the sensitive fields of a JSON document. `code` counts only at the top
    /// level: nested, it is an error code (`errors[].code`), which reports must show.
    pub fn scan_json(&mut self, v: &Value) {
        self.scan_json_at(v, 0);
    }

    fn scan_json_at(&mut self, v: &Value, depth: usize) {
        match v {
            Value::Object(o) => {
                for (k, x) in o {
                    match x {
                        Value::String(s)
                            if SENSITIVE_FIELDS.contains(&k.as_str())
                                && (depth == 0 || k != "code") =>
                        {
                            self.register(k, s);
                        }
                        Value::String(s) if RANDOM_ID_FIELDS.contains(&k.as_str()) => {
                            self.register(k, s);
                        }
                        _ => self.scan_json_at(x, depth + 1),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| self.scan_json_at(x, depth + 1)),
            _ => {}
        }
    }

    /// Registers the sensitive parameters of a query string or form body.
    pub fn scan_form(&mut self, s: &str) {
        for (k, v) in url::form_urlencoded::parse(s.as_bytes()) {
            if SENSITIVE_FIELDS.contains(&k.as_ref()) {
                self.register(&k, &v);
            }
        }
    }

    /// Registers an Authorization header's credentials and a Cookie/Set-Cookie's values.
    pub fn scan_header(&mut self, name: &str, value: &str) {
        match name {
            "authorization" | "proxy-authorization" => {
                let (scheme, cred) = value.split_once(' ').unwrap_or(("", value));
                let cred = cred.trim();
                if scheme.eq_ignore_ascii_case("bearer") {
                    self.register("access_token", cred);
                } else if scheme.eq_ignore_ascii_case("basic") {
                    self.register("basic", cred);
                } else {
                    self.register("authorization", value.trim());
                }
            }
            "cookie" => {
                for part in value.split(';') {
                    if let Some((_, v)) = part.split_once('=') {
                        self.register("cookie", v.trim());
                    }
                }
            }
            "set-cookie" => {
                if let Some((_, v)) = value.split(';').next().unwrap_or("").split_once('=') {
                    self.register("cookie", v.trim());
                }
            }
            _ => {}
        }
    }

    /// Replaces every known value, the base URL and generic random-looking values.
    pub fn text(&mut self, s: &str) -> String {
        let mut out = s.to_string();
        // Longest first, so a value that contains another is replaced whole.
        let mut keys: Vec<&String> = self.order.iter().collect();
        keys.sort_by_key(|k| std::cmp::Reverse(k.len()));
        for k in keys {
            if out.contains(k.as_str()) {
                out = out.replace(k.as_str(), &self.known[k]);
            }
        }
        if let Some(base) = &self.base_url {
            if !base.is_empty() {
                out = out.replace(base.as_str(), "<base_url>");
            }
        }
        for (re, kind, numbered) in patterns() {
            if !re.is_match(&out) {
                continue;
            }
            if !*numbered {
                let rep = if *kind == "n" {
                    "<n> $1".to_string()
                } else {
                    format!("<{kind}>")
                };
                out = re.replace_all(&out, rep.as_str()).into_owned();
                continue;
            }
            let found: Vec<String> = re.find_iter(&out).map(|m| m.as_str().to_string()).collect();
            for f in found {
                let p = self.register(kind, &f);
                out = out.replace(&f, &p);
            }
        }
        let found: Vec<String> = high_entropy()
            .find_iter(&out)
            .map(|m| m.as_str().to_string())
            .filter(|s| looks_random(s))
            .collect();
        for f in found {
            let p = self.register("opaque", &f);
            out = out.replace(&f, &p);
        }
        out
    }

    /// [`Redactor::text`] for a finding's `actual`, whose tail may be the answer's JSON
    /// body (`status 200 with body {...}`): that part is normalized as in a transcript
    /// (clock fields, lifetimes), so a finding reads the same from run to run.
    pub fn text_and_body(&mut self, s: &str) -> String {
        if let Some(i) = s.find(" with body ") {
            let (head, body) = s.split_at(i + " with body ".len());
            if let Ok(v) = serde_json::from_str::<Value>(body) {
                let v = self.json(&v);
                return format!("{}{v}", self.text(head));
            }
        }
        self.text(s)
    }

    /// Normalizes a JSON value (clock fields) and redacts its strings.
    pub fn json(&mut self, v: &Value) -> Value {
        match v {
            Value::Object(o) => {
                let mut m = serde_json::Map::new();
                for (k, x) in o {
                    let nv = if TIME_FIELDS.contains(&k.as_str()) && !x.is_null() {
                        Value::String("<timestamp>".into())
                    } else if let (true, Some(n)) =
                        (DURATION_FIELDS.contains(&k.as_str()), x.as_i64())
                    {
                        // A lifetime derived from a clock (an exchanged token keeps its
                        // subject's remaining time) jitters by a second between runs.
                        Value::from(if n >= 120 { (n + 30) / 60 * 60 } else { n })
                    } else {
                        self.json(x)
                    };
                    m.insert(self.text(k), nv);
                }
                Value::Object(m)
            }
            Value::Array(a) => Value::Array(a.iter().map(|x| self.json(x)).collect()),
            Value::String(s) => Value::String(self.text(s)),
            other => other.clone(),
        }
    }

    /// A value found at a JSON pointer (records): normalized as if in its document.
    pub fn json_at(&mut self, pointer: &str, v: &Value) -> Value {
        let last = pointer.rsplit('/').next().unwrap_or("");
        if TIME_FIELDS.contains(&last) && !v.is_null() {
            return Value::String("<timestamp>".into());
        }
        let top_level = pointer.matches('/').count() == 1;
        if SENSITIVE_FIELDS.contains(&last) && (top_level || last != "code") {
            if let Value::String(s) = v {
                return Value::String(self.register(last, s));
            }
        }
        self.json(v)
    }

    /// A body for a transcript: JSON normalized, text redacted, long bodies cut.
    pub fn body(&mut self, bytes: &[u8], content_type: Option<&str>) -> Option<String> {
        if bytes.is_empty() {
            return None;
        }
        let is_json = content_type.is_none_or(|c| c.contains("json"));
        if is_json && bytes.len() <= 256 * 1024 {
            if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
                self.scan_json(&v);
                let n = self.json(&v);
                return Some(self.cut(n.to_string()));
            }
        }
        // Redact a little past the cut so a secret straddling it is replaced whole.
        let longest = self.order.iter().map(String::len).max().unwrap_or(0);
        let window = (MAX_TRANSCRIPT_BODY + longest + 64).min(bytes.len());
        let text = String::from_utf8_lossy(&bytes[..window]).into_owned();
        if content_type.is_some_and(|c| c.contains("x-www-form-urlencoded")) {
            self.scan_form(&text);
        }
        let redacted = self.text(&text);
        let mut out = self.cut(redacted);
        if window < bytes.len() && !out.ends_with(')') {
            out.push_str(&format!("... ({} bytes)", bytes.len()));
        }
        Some(out)
    }

    fn cut(&self, s: String) -> String {
        if s.len() <= MAX_TRANSCRIPT_BODY {
            return s;
        }
        let mut end = MAX_TRANSCRIPT_BODY;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}... ({} bytes)", &s[..end], s.len())
    }

    /// A header value for a transcript.
    pub fn header(&mut self, name: &str, value: &str) -> Option<String> {
        if DROPPED_HEADERS.contains(&name) {
            return None;
        }
        if VOLATILE_HEADERS.contains(&name) {
            return Some(format!("<{name}>"));
        }
        self.scan_header(name, value);
        Some(match name {
            "authorization" | "proxy-authorization" => {
                let (scheme, _) = value.split_once(' ').unwrap_or(("", value));
                let p = self.text(value);
                if scheme.is_empty() {
                    p
                } else {
                    format!(
                        "{scheme} {}",
                        p.split_once(' ').map_or(p.as_str(), |(_, r)| r)
                    )
                }
            }
            "set-cookie" => {
                let mut parts = Vec::new();
                for (i, part) in value.split(';').enumerate() {
                    let t = part.trim();
                    if i > 0 && t.to_ascii_lowercase().starts_with("expires=") {
                        parts.push("Expires=<http-date>".to_string());
                    } else if i > 0 && t.to_ascii_lowercase().starts_with("max-age=") {
                        parts.push(t.to_string());
                    } else {
                        parts.push(self.text(t));
                    }
                }
                parts.join("; ")
            }
            _ => {
                if name == "location" || name == "content-location" {
                    if let Some((_, q)) = value.split_once('?') {
                        self.scan_form(q.split('#').next().unwrap_or(""));
                    }
                    if let Some((_, f)) = value.split_once('#') {
                        self.scan_form(f);
                    }
                }
                self.text(value)
            }
        })
    }
}

/// Turns raw exchanges into redacted, normalized transcript entries. Sensitive values
/// are registered in transcript order first, so numbering follows order of appearance.
/// The harness's run and the property runner both record through this one function, so a
/// counterexample's transcript is redacted exactly as a case's is.
pub fn transcript(
    r: &mut Redactor,
    profile: &Profile,
    raw: &[RawExchange],
    captured: &[(String, String)],
) -> Vec<Exchange> {
    for ex in raw {
        if let Some(q) = ex.request.url.query() {
            r.scan_form(q);
        }
        for (k, v) in &ex.request.headers {
            r.scan_header(k, v);
        }
        if let Some(bd) = &ex.request.body {
            scan_body(r, bd, ex.request.header("content-type"));
        }
        if let Some(o) = &ex.response {
            for (k, v) in &o.headers {
                r.scan_header(k, v);
                if k == "location" {
                    if let Some(loc) = o.location() {
                        if let Some(q) = loc.query() {
                            r.scan_form(q);
                        }
                        if let Some(f) = loc.fragment() {
                            r.scan_form(f);
                        }
                    }
                }
            }
            scan_body(r, &o.body, o.header("content-type").as_deref());
        }
    }
    for (name, v) in captured {
        r.register(name, v);
    }
    let base = profile.base().to_string();
    raw.iter()
        .map(|ex| {
            let full = ex.request.url.as_str();
            let target = full
                .strip_prefix(&base)
                .map(str::to_string)
                .unwrap_or_else(|| full.to_string());
            let mut headers = BTreeMap::new();
            for (k, v) in &ex.request.headers {
                if let Some(v) = r.header(k, v) {
                    headers.insert(k.clone(), v);
                }
            }
            let request = RecordedRequest {
                method: ex.request.method.clone(),
                target: r.text(&target),
                headers,
                body: ex
                    .request
                    .body
                    .as_ref()
                    .and_then(|b| r.body(b, ex.request.header("content-type"))),
            };
            let response = ex.response.as_ref().map(|o| {
                let mut headers = BTreeMap::new();
                for (k, v) in &o.headers {
                    if let Some(v) = r.header(k, v) {
                        headers
                            .entry(k.clone())
                            .and_modify(|e: &mut String| {
                                e.push_str(", ");
                                e.push_str(&v);
                            })
                            .or_insert(v);
                    }
                }
                RecordedResponse {
                    status: o.status,
                    headers,
                    body: r.body(&o.body, o.header("content-type").as_deref()),
                }
            });
            Exchange {
                step: ex.step.clone(),
                request,
                response,
                transport_error: ex.error.as_ref().map(|e| r.text(&e.to_string())),
                elapsed_ms: Some(ex.elapsed.as_secs_f64() * 1000.0),
                times: 1,
            }
        })
        .collect()
}

fn scan_body(r: &mut Redactor, body: &[u8], ct: Option<&str>) {
    if body.is_empty() || body.len() > 256 * 1024 {
        return;
    }
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        r.scan_json(&v);
    } else if ct.is_none_or(|c| c.contains("x-www-form-urlencoded")) {
        // Without a content type the body may still be a form a lenient server accepted.
        r.scan_form(&String::from_utf8_lossy(body));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A finding quotes the answer's body; its clock-derived values must not make the
    /// same finding read differently from one run to the next.
    #[test]
    fn a_finding_quoting_a_body_reads_the_same_every_run() {
        let profile = crate::profile::reference_profile().expect("reference profile");
        let mut a = Redactor::for_profile(&profile);
        let mut b = Redactor::for_profile(&profile);
        let at = |n: u32| {
            format!(
                r#"status 200 with body {{"expires_in":{n},"expires_at":"2026-12-06T09:2{}:00.000Z","scope":"user_default"}}"#,
                n % 10
            )
        };
        assert_eq!(a.text_and_body(&at(21599)), b.text_and_body(&at(21600)));
        assert!(a.text_and_body(&at(21599)).contains("\"expires_in\":21600"));
        // Text that is not followed by a JSON body is only redacted.
        assert_eq!(a.text_and_body("status 500"), "status 500");
    }
}
