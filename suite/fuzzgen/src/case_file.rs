//! Anomalies as case files (cases/case.schema.json), redacted, and their replay.

use std::path::Path;

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::oracle::{Anomaly, AnomalyKind};
use crate::request::HttpRequest;
use crate::vocabulary::Vocabulary;

/// Statuses a correct server may answer with; a 5xx case expects one of them.
const NON_SERVER_ERROR: &[u16] = &[
    200, 201, 204, 301, 302, 303, 307, 308, 400, 401, 403, 404, 405, 406, 409, 411, 413, 414, 415,
    422, 429, 431,
];

/// Name of the `let` binding that carries Basic credentials holding a secret.
const BASIC_BINDING: &str = "basic_credentials";

/// Everything a saved case says about where it came from.
#[derive(Debug, Clone)]
pub struct Provenance<'a> {
    pub target: &'a str,
    pub seed: u64,
    pub sequence: u64,
}

fn redact(vocabulary: &Vocabulary, text: &str) -> String {
    let mut out = text.to_string();
    for secret in vocabulary.secrets() {
        if out.contains(secret) {
            let template = vocabulary
                .secret_template(secret)
                .unwrap_or_else(|| "[REDACTED]".to_string());
            out = out.replace(secret, &template);
        }
    }
    out
}

/// Splits a Basic header into user and password when one of them holds a secret, so the
/// saved case regenerates the header instead of storing the encoded secret.
fn basic_with_secret(vocabulary: &Vocabulary, value: &str) -> Option<(String, String)> {
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    let secrets = vocabulary.secrets();
    secrets
        .iter()
        .any(|secret| decoded.contains(secret))
        .then(|| (redact(vocabulary, user), redact(vocabulary, password)))
}

fn title(kind: AnomalyKind, request: &HttpRequest) -> String {
    let what = match kind {
        AnomalyKind::ServerError => "answers without a server error",
        AnomalyKind::Timeout => "answers within the time bound",
        AnomalyKind::NotEnvelope => "answers an error with an Errors envelope",
        AnomalyKind::SecretEchoed => "does not echo a secret",
        AnomalyKind::UnregisteredRedirect => "redirects only to registered URIs",
        AnomalyKind::Dropped => "answers instead of dropping the connection",
        AnomalyKind::UnlistedStatus => "answers with a status the spec lists for it",
        AnomalyKind::Unreadable => "answers with a body a client can read",
    };
    format!("{} {} {what}", request.method, request.path)
}

fn refs(kind: AnomalyKind) -> Value {
    match kind {
        AnomalyKind::NotEnvelope => json!([
            {"doc": "notes", "section": "Errors", "quote": "error bodies must be a JSON `errors` envelope"},
            {"doc": "spec", "section": "Errors"}
        ]),
        AnomalyKind::SecretEchoed => json!([
            {"doc": "RFC9700", "section": "4.14"},
            {"doc": "notes", "section": "Errors"}
        ]),
        AnomalyKind::UnregisteredRedirect => json!([
            {"doc": "RFC9700", "section": "4.1.3", "quote": "exact string matching"},
            {"doc": "RFC6749", "section": "4.1.2.1"}
        ]),
        AnomalyKind::UnlistedStatus => json!([
            {"doc": "spec", "section": "responses", "quote": "POST /oauth/token: 200, 400, 401, 403; POST /oauth/revoke: 200, 400; GET /oauth/authorize: 302, 400"}
        ]),
        AnomalyKind::Unreadable => json!([
            {"doc": "spec", "section": "responses", "quote": "content: application/json"},
            {"doc": "RFC6749", "section": "5.1", "quote": "The parameters are included in the entity-body of the HTTP response using the \"application/json\" media type"}
        ]),
        _ => json!([
            {"doc": "notes", "section": "Errors", "quote": "error bodies must be a JSON `errors` envelope"}
        ]),
    }
}

fn expect(
    kind: AnomalyKind,
    vocabulary: &Vocabulary,
    location: Option<&str>,
    listed: Option<&[u16]>,
) -> Value {
    match kind {
        AnomalyKind::ServerError | AnomalyKind::Timeout | AnomalyKind::Dropped => {
            json!({"status": NON_SERVER_ERROR})
        }
        AnomalyKind::NotEnvelope => json!({
            "schema": "Errors",
            "json": {
                "/errors/0/code": {"type": "string"},
                "/errors/0/title": {"type": "string"},
                "/errors/0/status": {"type": "string"}
            }
        }),
        AnomalyKind::SecretEchoed => {
            let templates: Vec<String> = vocabulary
                .secrets()
                .into_iter()
                .filter_map(|secret| vocabulary.secret_template(secret))
                .filter(|template| template.starts_with("{{"))
                .collect();
            json!({"body": {"not_contains": templates}})
        }
        AnomalyKind::UnlistedStatus => json!({"status": listed.unwrap_or(NON_SERVER_ERROR)}),
        AnomalyKind::Unreadable => json!({"json": {"": {"type": "object"}}}),
        AnomalyKind::UnregisteredRedirect => {
            let bare = location
                .and_then(|location| url::Url::parse(location).ok())
                .map(|mut url| {
                    url.set_query(None);
                    url.set_fragment(None);
                    url.to_string()
                })
                .unwrap_or_default();
            json!({"location": {"not_redirect_uri": redact(vocabulary, &bare)}})
        }
    }
}

/// Builds the case file of one anomaly: the request, redacted, and the expectation that the
/// anomaly breaks, so `qoauth run` on the file fails until the target is fixed.
pub fn case_for(
    vocabulary: &Vocabulary,
    request: &HttpRequest,
    anomaly: &Anomaly,
    location: Option<&str>,
    provenance: &Provenance,
) -> Value {
    let mut bindings = Map::new();
    let mut headers = Map::new();
    for (name, value) in &request.headers {
        let value = if name.eq_ignore_ascii_case("authorization") {
            match basic_with_secret(vocabulary, value) {
                Some((user, password)) => {
                    bindings.insert(
                        BASIC_BINDING.to_string(),
                        json!({"basic": {"user": user, "password": password, "form_encode": false}}),
                    );
                    // The `basic` generator yields the whole header value, `Basic ...`.
                    format!("{{{{{BASIC_BINDING}}}}}")
                }
                None => redact(vocabulary, value),
            }
        } else {
            redact(vocabulary, value)
        };
        headers.insert(name.clone(), Value::String(value));
    }
    let mut step_request = Map::new();
    step_request.insert("method".into(), json!(request.method));
    step_request.insert("path".into(), json!(redact(vocabulary, &request.path)));
    if let Some(query) = &request.query {
        step_request.insert("raw_query".into(), json!(redact(vocabulary, query)));
    }
    if !headers.is_empty() {
        step_request.insert("headers".into(), Value::Object(headers));
    }
    if !request.body.is_empty() {
        step_request.insert("body".into(), json!(redact(vocabulary, &request.body)));
    }
    let digest = Sha256::digest(serde_json::to_vec(&step_request).unwrap_or_default());
    let short: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    let mut case = Map::new();
    case.insert(
        "id".into(),
        json!(format!(
            "fuzz.{}.r{}_{short}",
            anomaly.kind.name(),
            provenance.sequence
        )),
    );
    case.insert("title".into(), json!(title(anomaly.kind, request)));
    case.insert(
        "description".into(),
        json!(format!(
            "{}. Found by remote fuzzing of {} (seed {}, request {}).",
            redact(vocabulary, &anomaly.detail),
            provenance.target,
            provenance.seed,
            provenance.sequence
        )),
    );
    case.insert("level".into(), json!("MUST"));
    case.insert("refs".into(), refs(anomaly.kind));
    if !bindings.is_empty() {
        case.insert("let".into(), Value::Object(bindings));
    }
    case.insert(
        "steps".into(),
        json!([{"request": Value::Object(step_request), "expect": expect(anomaly.kind, vocabulary, location, crate::oracle::listed_statuses(&request.method, &request.path))}]),
    );
    json!({
        "description": "Anomalies found by `qoauth fuzz`; each case replays one request.",
        "cases": [Value::Object(case)]
    })
}

/// The request of a saved case, with its templates expanded for `vocabulary`.
///
/// Reads back only what [`case_for`] writes; a hand-written case goes through the harness.
pub fn request_of_case(vocabulary: &Vocabulary, case_file: &Value) -> Result<HttpRequest> {
    let case = case_file
        .pointer("/cases/0")
        .context("case file without cases")?;
    let request = case
        .pointer("/steps/0/request")
        .context("case without a request step")?;
    let field = |name: &str| request.get(name).and_then(Value::as_str);
    let mut basic = None;
    if let Some(binding) = case.pointer(&format!("/let/{BASIC_BINDING}/basic")) {
        let part = |name: &str| {
            vocabulary.expand_templates(binding.get(name).and_then(Value::as_str).unwrap_or(""))
        };
        // The `basic` generator yields the whole header value.
        basic = Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                part("user"),
                part("password")
            ))
        ));
    }
    let expand = |text: &str| {
        let text = vocabulary.expand_templates(text);
        match &basic {
            Some(encoded) => text.replace(&format!("{{{{{BASIC_BINDING}}}}}"), encoded),
            None => text,
        }
    };
    let mut headers = Vec::new();
    if let Some(map) = request.get("headers").and_then(Value::as_object) {
        for (name, value) in map {
            let Some(value) = value.as_str() else {
                bail!("header {name} is not a string");
            };
            headers.push((name.clone(), expand(value)));
        }
    }
    Ok(HttpRequest {
        method: field("method")
            .context("request without method")?
            .to_string(),
        path: expand(field("path").context("request without path")?),
        query: field("raw_query").map(expand),
        headers,
        body: field("body").map(expand).unwrap_or_default(),
    })
}

/// Writes a case file, named after its case id, and returns its path.
pub fn write_case(dir: &Path, case_file: &Value) -> Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let id = case_file
        .pointer("/cases/0/id")
        .and_then(Value::as_str)
        .context("case without id")?;
    let path = dir.join(format!("{id}.json"));
    let text = serde_json::to_string_pretty(case_file)? + "\n";
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_cases_hold_no_secret_and_replay_to_the_same_request() {
        let vocabulary = Vocabulary::default_fixture();
        let secret = "wc-secret-2f8e6a1d9c4b7e30a5f1";
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("web-confidential:{secret}"))
        );
        let request = HttpRequest {
            method: "POST".into(),
            path: "/oauth/token".into(),
            query: Some(format!("client_secret={secret}")),
            headers: vec![
                ("authorization".into(), basic),
                (
                    "content-type".into(),
                    "application/x-www-form-urlencoded".into(),
                ),
            ],
            body: format!("grant_type=client_credentials&client_secret={secret}"),
        };
        let anomaly = Anomaly {
            kind: AnomalyKind::SecretEchoed,
            detail: format!("echoed {secret}"),
        };
        let provenance = Provenance {
            target: "http://127.0.0.1:1",
            seed: 1,
            sequence: 2,
        };
        let case = case_for(&vocabulary, &request, &anomaly, None, &provenance);
        let text = case.to_string();
        assert!(!text.contains(secret), "secret left in {text}");
        let encoded_secret =
            base64::engine::general_purpose::STANDARD.encode(format!("web-confidential:{secret}"));
        assert!(!text.contains(&encoded_secret));
        assert!(text.contains("{{clients.confidential.secret}}"));
        assert_eq!(request_of_case(&vocabulary, &case).unwrap(), request);
    }
}
