//! Anomalies as case files (cases/case.schema.json), redacted, and their replay.

use base64::Engine as _;
use qoauth_harness::cases::{Case, CaseFile, Expect, Matcher, Request, Step};
use qoauth_harness::result::{Level, Reference};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use qoauth_fuzzgen::oracle::{Anomaly, AnomalyKind};
use qoauth_fuzzgen::request::HttpRequest;
use qoauth_fuzzgen::vocabulary::Vocabulary;
use qoauth_spec::NOT_SERVER_ERRORS as NON_SERVER_ERROR;

use crate::RemoteFuzzError;

/// Name of the `let` binding that carries Basic credentials holding a secret.
const BASIC_BINDING: &str = "basic_credentials";

/// Everything a saved case says about where it came from.
#[derive(Debug, Clone)]
pub struct Provenance<'a> {
    pub target: &'a str,
    pub seed: u64,
    pub sequence: u64,
}

/// Whether the harness can render `template` when it runs the saved case: a name it does
/// not know (a fixture client outside the profile's roles) makes the whole file refused.
fn renderable(template: &str) -> bool {
    template
        .strip_prefix("{{")
        .and_then(|t| t.strip_suffix("}}"))
        .is_none_or(qoauth_harness::profile::is_profile_name)
}

fn redact(vocabulary: &Vocabulary, text: &str) -> String {
    let mut out = text.to_string();
    for secret in vocabulary.secrets() {
        if out.contains(secret) {
            let template = vocabulary
                .secret_template(secret)
                .filter(|template| renderable(template))
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

fn reference(doc: &str, section: &str, quote: Option<&str>) -> Reference {
    Reference {
        doc: doc.into(),
        section: section.into(),
        quote: quote.map(str::to_string),
    }
}

fn refs(kind: AnomalyKind) -> Vec<Reference> {
    let envelope = || {
        reference(
            "notes",
            "Errors",
            Some("error bodies must be a JSON `errors` envelope"),
        )
    };
    match kind {
        AnomalyKind::NotEnvelope => vec![envelope(), reference("spec", "Errors", None)],
        AnomalyKind::SecretEchoed => vec![
            reference("RFC9700", "4.14", None),
            reference("notes", "Errors", None),
        ],
        AnomalyKind::UnregisteredRedirect => vec![
            reference("RFC9700", "4.1.3", Some("exact string matching")),
            reference("RFC6749", "4.1.2.1", None),
        ],
        AnomalyKind::UnlistedStatus => vec![reference(
            "spec",
            "responses",
            Some("POST /oauth/token: 200, 400, 401, 403; POST /oauth/revoke: 200, 400; GET /oauth/authorize: 302, 400"),
        )],
        AnomalyKind::Unreadable => vec![
            reference("spec", "responses", Some("content: application/json")),
            reference(
                "RFC6749",
                "5.1",
                Some("The parameters are included in the entity-body of the HTTP response using the \"application/json\" media type"),
            ),
        ],
        _ => vec![envelope()],
    }
}

fn expect(
    kind: AnomalyKind,
    vocabulary: &Vocabulary,
    location: Option<&str>,
    listed: Option<&[u16]>,
) -> Expect {
    match kind {
        AnomalyKind::ServerError | AnomalyKind::Timeout | AnomalyKind::Dropped => {
            Expect::status(NON_SERVER_ERROR)
        }
        AnomalyKind::NotEnvelope => Expect::default()
            .with_schema("Errors")
            .with_json("/errors/0/code", Matcher::of_type("string"))
            .with_json("/errors/0/title", Matcher::of_type("string"))
            .with_json("/errors/0/status", Matcher::of_type("string")),
        AnomalyKind::SecretEchoed => {
            let templates: Vec<String> = vocabulary
                .secrets()
                .into_iter()
                .filter_map(|secret| vocabulary.secret_template(secret))
                .filter(|template| template.starts_with("{{") && renderable(template))
                .collect();
            Expect::default().with_body(Matcher::not_contains(templates))
        }
        AnomalyKind::UnlistedStatus => Expect::status(listed.unwrap_or(NON_SERVER_ERROR)),
        AnomalyKind::Unreadable => Expect::default().with_json("", Matcher::of_type("object")),
        AnomalyKind::UnregisteredRedirect => {
            let bare = location
                .and_then(|location| url::Url::parse(location).ok())
                .map(|mut url| {
                    url.set_query(None);
                    url.set_fragment(None);
                    url.to_string()
                })
                .unwrap_or_default();
            Expect::default().with_not_redirect_uri(redact(vocabulary, &bare))
        }
    }
}

/// The hex digest that ends a case id: the same request always gets the same id, so a
/// finding seen again in another run overwrites its file instead of adding one. Headers
/// count in the order they were sent, as the request was.
fn request_digest(request: &Request, header_order: &[String]) -> String {
    let mut value = serde_json::to_value(request).unwrap_or_default();
    if let Some(headers) = value.get_mut("headers") {
        let mut sent = Map::new();
        for name in header_order {
            if let Some(v) = request.headers.get(name) {
                sent.insert(name.clone(), Value::String(v.clone()));
            }
        }
        *headers = Value::Object(sent);
    }
    let digest = Sha256::digest(serde_json::to_vec(&value).unwrap_or_default());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// Builds the case file of one anomaly: the request, redacted, and the expectation that the
/// anomaly breaks, so `qoauth run` on the file fails until the target is fixed.
pub fn case_for(
    vocabulary: &Vocabulary,
    request: &HttpRequest,
    anomaly: &Anomaly,
    location: Option<&str>,
    provenance: &Provenance,
) -> CaseFile {
    let mut bindings = Map::new();
    let mut step_request = Request {
        method: request.method.clone(),
        path: redact(vocabulary, &request.path),
        raw_query: request
            .query
            .as_deref()
            .map(|query| redact(vocabulary, query)),
        body: (!request.body.is_empty()).then(|| redact(vocabulary, &request.body)),
        ..Request::default()
    };
    for (name, value) in &request.headers {
        let value = if name.eq_ignore_ascii_case("authorization") {
            match basic_with_secret(vocabulary, value) {
                Some((user, password)) => {
                    // A `let` generator: the case format keeps generators as JSON.
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
        step_request.headers.insert(name.clone(), value);
    }
    let header_order: Vec<String> = request
        .headers
        .iter()
        .map(|(name, _)| name.clone())
        .collect();
    let short = request_digest(&step_request, &header_order);
    let step = Step {
        expect: Some(expect(
            anomaly.kind,
            vocabulary,
            location,
            qoauth_spec::listed_statuses(&request.method, &request.path),
        )),
        request: Some(step_request),
        ..Step::default()
    };
    let mut case = Case::new(
        format!(
            "fuzz.{}.r{}_{short}",
            anomaly.kind.name(),
            provenance.sequence
        ),
        title(anomaly.kind, request),
        Level::Must,
        refs(anomaly.kind),
        vec![step],
    );
    case.description = Some(format!(
        "{}. Found by remote fuzzing of {} (seed {}, request {}).",
        redact(vocabulary, &anomaly.detail),
        provenance.target,
        provenance.seed,
        provenance.sequence
    ));
    case.lets = bindings;
    CaseFile {
        description: Some(
            "Anomalies found by `qoauth fuzz`; each case replays one request.".into(),
        ),
        cases: vec![case],
    }
}

/// The request of a saved case, with its templates expanded for `vocabulary`.
///
/// Reads back only what [`case_for`] writes; a hand-written case goes through the harness.
pub fn request_of_case(
    vocabulary: &Vocabulary,
    case: &Case,
) -> Result<HttpRequest, RemoteFuzzError> {
    let request = case
        .steps
        .first()
        .and_then(|step| step.request.as_ref())
        .ok_or_else(|| RemoteFuzzError::NoRequest {
            case: case.id.clone(),
        })?;
    let basic = case
        .lets
        .get(BASIC_BINDING)
        .and_then(|binding| binding.get("basic"))
        .map(|binding| {
            let part = |name: &str| {
                vocabulary.expand_templates(binding.get(name).and_then(Value::as_str).unwrap_or(""))
            };
            // The `basic` generator yields the whole header value.
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    part("user"),
                    part("password")
                ))
            )
        });
    let expand = |text: &str| {
        let text = vocabulary.expand_templates(text);
        match &basic {
            Some(encoded) => text.replace(&format!("{{{{{BASIC_BINDING}}}}}"), encoded),
            None => text,
        }
    };
    Ok(HttpRequest {
        method: request.method.clone(),
        path: expand(&request.path),
        query: request.raw_query.as_deref().map(expand),
        headers: request
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), expand(value)))
            .collect(),
        body: request.body.as_deref().map(expand).unwrap_or_default(),
    })
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
        let file = case_for(&vocabulary, &request, &anomaly, None, &provenance);
        let text = serde_json::to_string_pretty(&file).unwrap();
        assert!(!text.contains(secret), "secret left in {text}");
        let encoded_secret =
            base64::engine::general_purpose::STANDARD.encode(format!("web-confidential:{secret}"));
        assert!(!text.contains(&encoded_secret));
        assert!(text.contains("{{clients.confidential.secret}}"));
        let loaded =
            qoauth_harness::cases::parse_case_file(std::path::Path::new("saved.json"), &text)
                .expect("the harness loads the saved case");
        assert_eq!(request_of_case(&vocabulary, &loaded[0]).unwrap(), request);
        assert_eq!(
            request_of_case(&vocabulary, &file.cases[0]).unwrap(),
            request
        );
    }
}
