//! Redacted transcripts of counterexamples, in the run result's format. The harness
//! keeps its transcript redaction private, so this repeats it on the harness's public
//! `Redactor`: sensitive values are registered in order of appearance first, then every
//! request and response is rewritten.

use qoauth_harness::exec::RawExchange;
use qoauth_harness::profile::Profile;
use qoauth_harness::redact::Redactor;
use qoauth_harness::result::{Exchange, RecordedRequest, RecordedResponse};
use serde_json::Value;
use std::collections::BTreeMap;

fn scan_body(r: &mut Redactor, body: &[u8], ct: Option<&str>) {
    if body.is_empty() || body.len() > 256 * 1024 {
        return;
    }
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        r.scan_json(&v);
    } else if ct.is_some_and(|c| c.contains("x-www-form-urlencoded")) || ct.is_none() {
        r.scan_form(&String::from_utf8_lossy(body));
    }
}

/// Registers every sensitive value of the exchanges, so later text redaction finds them.
pub fn scan(r: &mut Redactor, raw: &[RawExchange]) {
    for ex in raw {
        if let Some(q) = ex.request.url.query() {
            r.scan_form(q);
        }
        for (k, v) in &ex.request.headers {
            r.scan_header(k, v);
        }
        if let Some(b) = &ex.request.body {
            scan_body(r, b, ex.request.header("content-type"));
        }
        if let Some(o) = &ex.response {
            for (k, v) in &o.headers {
                r.scan_header(k, v);
            }
            if let Some(loc) = o.location() {
                if let Some(q) = loc.query() {
                    r.scan_form(q);
                }
                if let Some(f) = loc.fragment() {
                    r.scan_form(f);
                }
            }
            scan_body(r, &o.body, o.header("content-type").as_deref());
        }
    }
}

/// The exchanges as redacted transcript entries.
pub fn redact(r: &mut Redactor, profile: &Profile, raw: &[RawExchange]) -> Vec<Exchange> {
    scan(r, raw);
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
            }
        })
        .collect()
}
