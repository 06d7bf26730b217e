//! Judging one response: the anomalies fuzzing looks for, in-process and over the network.

use std::time::Duration;

use serde_json::Value;

use crate::request::HttpRequest;
use crate::vocabulary::Vocabulary;

/// What went wrong with a response. The names are stable: they appear in case ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AnomalyKind {
    ServerError,
    Timeout,
    NotEnvelope,
    SecretEchoed,
    UnregisteredRedirect,
    /// The connection closed without a response: over HTTP, what a handler panic looks like.
    Dropped,
    /// A status the spec does not list for the operation (a redirect from the token
    /// endpoint, a 204 from revoke, ...).
    UnlistedStatus,
    /// A body no client could read: past the reader's cap, or a success that is not JSON.
    Unreadable,
}

impl AnomalyKind {
    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::ServerError => "server_error",
            AnomalyKind::Timeout => "timeout",
            AnomalyKind::NotEnvelope => "not_envelope",
            AnomalyKind::SecretEchoed => "secret_echoed",
            AnomalyKind::UnregisteredRedirect => "unregistered_redirect",
            AnomalyKind::Dropped => "dropped",
            AnomalyKind::UnlistedStatus => "unlisted_status",
            AnomalyKind::Unreadable => "unreadable",
        }
    }
}

/// One finding, with a detail that never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    pub detail: String,
}

/// A response as the oracle needs it. `body` may be a prefix when the reader capped it.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub elapsed: Duration,
    /// True when the body was cut at the cap, so a JSON parse failure proves nothing.
    pub truncated: bool,
}

impl Observed {
    /// The headers as the oracle reads them, whichever client (in process or over the
    /// network) received them; a value that is not UTF-8 is kept lossily, not dropped.
    pub fn header_pairs(headers: &http::HeaderMap) -> Vec<(String, String)> {
        headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// The rules a response is held to, for one target.
#[derive(Debug, Clone)]
pub struct Oracle {
    secrets: Vec<String>,
    redirect_uris: Vec<String>,
    /// The target's own origin (`scheme://host:port`): redirects there stay on the target.
    own_origin: Option<String>,
    pub time_bound: Duration,
}

impl Oracle {
    pub fn new(vocabulary: &Vocabulary, own_origin: Option<&str>, time_bound: Duration) -> Self {
        Oracle {
            secrets: vocabulary
                .secrets()
                .into_iter()
                .map(str::to_string)
                .collect(),
            redirect_uris: vocabulary
                .redirect_uris()
                .into_iter()
                .map(str::to_string)
                .collect(),
            own_origin: own_origin.map(|origin| origin.trim_end_matches('/').to_string()),
            time_bound,
        }
    }

    /// Every anomaly of one exchange; empty when the response is acceptable.
    pub fn check(&self, request: &HttpRequest, response: &Observed) -> Vec<Anomaly> {
        let mut found = Vec::new();
        if response.status >= 500 {
            found.push(Anomaly {
                kind: AnomalyKind::ServerError,
                detail: format!("HTTP {}", response.status),
            });
        }
        if response.elapsed > self.time_bound {
            found.push(Anomaly {
                kind: AnomalyKind::Timeout,
                detail: format!(
                    "answered in {} ms, bound {} ms",
                    response.elapsed.as_millis(),
                    self.time_bound.as_millis()
                ),
            });
        }
        if response.status >= 400 && request.method != "HEAD" && !response.truncated {
            if let Err(problem) = check_envelope(response.status, &response.body) {
                found.push(Anomaly {
                    kind: AnomalyKind::NotEnvelope,
                    detail: format!("HTTP {}: {problem}", response.status),
                });
            }
        }
        if let Some(listed) = qoauth_spec::listed_statuses(&request.method, &request.path) {
            if response.status < 500 && !listed.contains(&response.status) {
                found.push(Anomaly {
                    kind: AnomalyKind::UnlistedStatus,
                    detail: format!(
                        "HTTP {} to {} {}, which the spec does not list for it",
                        response.status, request.method, request.path
                    ),
                });
            }
        }
        if response.truncated {
            found.push(Anomaly {
                kind: AnomalyKind::Unreadable,
                detail: format!(
                    "HTTP {}: a body past {} bytes, which no client reads to the end",
                    response.status,
                    response.body.len()
                ),
            });
        } else if matches!(
            qoauth_spec::operation(&request.method, &request.path),
            Some(qoauth_spec::Operation::Token | qoauth_spec::Operation::Revoke)
        ) && (200..300).contains(&response.status)
            && serde_json::from_slice::<Value>(&response.body).is_err()
        {
            found.push(Anomaly {
                kind: AnomalyKind::Unreadable,
                detail: format!(
                    "HTTP {} to {} {} with a body that is not JSON (the spec's application/json)",
                    response.status, request.method, request.path
                ),
            });
        }
        if let Some(role) = self.echoed_secret(request, response) {
            found.push(Anomaly {
                kind: AnomalyKind::SecretEchoed,
                detail: format!("HTTP {}: secret #{role} in the response", response.status),
            });
        }
        if (300..400).contains(&response.status) {
            if let Some(location) = response.header("location") {
                if !self.redirect_allowed(location) {
                    found.push(Anomaly {
                        kind: AnomalyKind::UnregisteredRedirect,
                        detail: format!("HTTP {} to an unregistered URI", response.status),
                    });
                }
            }
        }
        found
    }

    /// Index of a secret the response carries that the request did not put where a server
    /// may legitimately echo it (a `state`, a bad scope name). Credential positions, the
    /// Authorization header and `client_secret` fields, are excluded from that excuse.
    fn echoed_secret(&self, request: &HttpRequest, response: &Observed) -> Option<usize> {
        let body = String::from_utf8_lossy(&response.body);
        let in_response = |secret: &str| {
            body.contains(secret)
                || response
                    .headers
                    .iter()
                    .any(|(_, value)| value.contains(secret))
        };
        // The request is looked at only when a secret shows up, and decoded only when the
        // secret is not where the request put it in plain sight (a `state`, a path).
        let mut plain: Option<Vec<&str>> = None;
        let mut decoded: Option<Vec<String>> = None;
        self.secrets.iter().position(|secret| {
            if !in_response(secret) {
                return false;
            }
            let plain = plain.get_or_insert_with(|| plain_texts(request));
            if plain.iter().any(|text| text.contains(secret.as_str())) {
                return false;
            }
            let decoded = decoded.get_or_insert_with(|| decoded_texts(request));
            !decoded.iter().any(|text| text.contains(secret.as_str()))
        })
    }

    fn redirect_allowed(&self, location: &str) -> bool {
        let Ok(url) = url::Url::parse(location) else {
            // Relative: it stays on the target. Scheme-relative `//host` leaves it.
            return !location.starts_with("//") && !location.starts_with("\\\\");
        };
        if let Some(origin) = &self.own_origin {
            if url.origin().ascii_serialization() == *origin {
                return true;
            }
        }
        let mut bare = url.clone();
        bare.set_query(None);
        bare.set_fragment(None);
        self.redirect_uris.iter().any(|registered| {
            registered == bare.as_str()
                || url::Url::parse(registered).is_ok_and(|known| known == bare)
        })
    }
}

/// The request text a server may reflect without leaking anything, as sent: the path, the
/// raw query, and every header but Authorization.
fn plain_texts(request: &HttpRequest) -> Vec<&str> {
    let mut texts = vec![request.path.as_str()];
    texts.extend(request.query.as_deref());
    texts.extend(
        request
            .headers
            .iter()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("authorization"))
            .map(|(_, value)| value.as_str()),
    );
    texts
}

/// The rest of what a server may reflect, decoded the way a server would decode it: the
/// query's parameters and the body, without any `client_secret`.
fn decoded_texts(request: &HttpRequest) -> Vec<String> {
    let mut texts = Vec::new();
    if let Some(query) = &request.query {
        texts.extend(
            form_urlencoded::parse(query.as_bytes())
                .filter(|(key, _)| key != "client_secret")
                .flat_map(|(key, value)| [key.into_owned(), value.into_owned()]),
        );
    }
    match serde_json::from_str::<Value>(&request.body) {
        Ok(Value::Object(mut members)) => {
            members.remove("client_secret");
            texts.push(Value::Object(members).to_string());
        }
        Ok(other) => texts.push(other.to_string()),
        Err(_) => {
            let pairs: Vec<(String, String)> = form_urlencoded::parse(request.body.as_bytes())
                .map(|(key, value)| (key.into_owned(), value.into_owned()))
                .collect();
            if pairs.iter().any(|(key, _)| key == "client_secret") {
                texts.extend(
                    pairs
                        .into_iter()
                        .filter(|(key, _)| key != "client_secret")
                        .flat_map(|(key, value)| [key, value]),
                );
            } else {
                texts.push(request.body.clone());
                texts.extend(pairs.into_iter().flat_map(|(key, value)| [key, value]));
            }
        }
    }
    texts
}

/// How an error body departs from the spec's `Errors` envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvelopeBreak {
    NotJson,
    NoErrorsArray,
    EmptyErrors,
    /// `errors[index].field` is missing or of the wrong type.
    BadField {
        index: usize,
        field: &'static str,
        want: &'static str,
    },
    /// `errors[index].status` is not the HTTP status as a string.
    StatusDiffers {
        index: usize,
    },
}

impl std::fmt::Display for EnvelopeBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EnvelopeBreak::NotJson => f.write_str("body is not JSON"),
            EnvelopeBreak::NoErrorsArray => f.write_str("no `errors` array"),
            EnvelopeBreak::EmptyErrors => f.write_str("`errors` is empty"),
            EnvelopeBreak::BadField { index, field, want } => {
                write!(f, "errors[{index}].{field} is not {want}")
            }
            EnvelopeBreak::StatusDiffers { index } => {
                write!(f, "errors[{index}].status differs from the HTTP status")
            }
        }
    }
}

impl std::error::Error for EnvelopeBreak {}

/// Checks that an error body is the spec's `Errors` envelope and that every error's
/// `status` is the HTTP status as a string (the spec's cross-cutting rule).
pub fn check_envelope(status: u16, body: &[u8]) -> Result<(), EnvelopeBreak> {
    let value: Value = serde_json::from_slice(body).map_err(|_| EnvelopeBreak::NotJson)?;
    check_envelope_value(status, &value)
}

/// [`check_envelope`] on an already decoded body: the parser targets hold the envelope as a
/// value and need not print and re-read it to hold it to the same rules.
pub fn check_envelope_value(status: u16, value: &Value) -> Result<(), EnvelopeBreak> {
    let errors = value
        .get("errors")
        .and_then(Value::as_array)
        .ok_or(EnvelopeBreak::NoErrorsArray)?;
    if errors.is_empty() {
        return Err(EnvelopeBreak::EmptyErrors);
    }
    let expected = status.to_string();
    for (index, error) in errors.iter().enumerate() {
        let bad = |field, want| EnvelopeBreak::BadField { index, field, want };
        for field in ["code", "title"] {
            if !error.get(field).is_some_and(Value::is_string) {
                return Err(bad(field, "a string"));
            }
        }
        match error.get("status").and_then(Value::as_str) {
            Some(given) if given == expected => {}
            Some(_) => return Err(EnvelopeBreak::StatusDiffers { index }),
            None => return Err(bad("status", "a string")),
        }
        if error
            .get("detail")
            .is_some_and(|detail| !detail.is_string())
        {
            return Err(bad("detail", "a string"));
        }
        if error.get("meta").is_some_and(|meta| !meta.is_object()) {
            return Err(bad("meta", "an object"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: &str) -> HttpRequest {
        HttpRequest {
            method: "POST".into(),
            path: "/oauth/token".into(),
            query: None,
            headers: vec![],
            body: body.into(),
        }
    }

    fn observed(status: u16, body: &str) -> Observed {
        Observed {
            status,
            body: body.as_bytes().to_vec(),
            ..Observed::default()
        }
    }

    fn oracle() -> Oracle {
        Oracle::new(
            &Vocabulary::default_fixture(),
            Some("http://127.0.0.1:1"),
            Duration::from_secs(1),
        )
    }

    #[test]
    fn envelope_rules() {
        let good = r#"{"errors":[{"code":"OAUTH-1","title":"t","status":"400"}]}"#;
        assert!(check_envelope(400, good.as_bytes()).is_ok());
        assert!(check_envelope(401, good.as_bytes()).is_err());
        assert!(check_envelope(400, br#"{"errors":[]}"#).is_err());
        assert!(check_envelope(400, br#"{"errors":[{"code":"x","title":"t"}]}"#).is_err());
        assert!(check_envelope(400, b"Bad Request").is_err());
    }

    #[test]
    fn a_secret_sent_as_a_credential_must_not_come_back() {
        let secret = "wc-secret-2f8e6a1d9c4b7e30a5f1";
        let sent = request(&format!(
            "client_id=web-confidential&client_secret={secret}"
        ));
        let leak = observed(400, &format!(r#"{{"echo":"{secret}"}}"#));
        let kinds: Vec<_> = oracle()
            .check(&sent, &leak)
            .into_iter()
            .map(|a| a.kind)
            .collect();
        assert!(kinds.contains(&AnomalyKind::SecretEchoed));
        let reflected = request(&format!("state={secret}"));
        let kinds: Vec<_> = oracle()
            .check(&reflected, &leak)
            .into_iter()
            .map(|a| a.kind)
            .collect();
        assert!(!kinds.contains(&AnomalyKind::SecretEchoed));
    }

    #[test]
    fn redirects_only_to_registered_uris_or_home() {
        let oracle = oracle();
        assert!(oracle.redirect_allowed("https://app.example.com/callback?code=x&state=y"));
        assert!(oracle.redirect_allowed("/login?x=1"));
        assert!(oracle.redirect_allowed("http://127.0.0.1:1/login"));
        assert!(!oracle.redirect_allowed("https://app.example.com/callback/evil?code=x"));
        assert!(!oracle.redirect_allowed("https://evil.example/"));
        assert!(!oracle.redirect_allowed("//evil.example/"));
    }
}
