//! The GET /oauth/authorize query and the redirect URI rule that goes with it. Apart from
//! the body parser because a query has its own parameters and its own failure: one that
//! cannot be read must still yield what an error redirect needs.

use std::fmt;

use super::form_decode;

/// The parameters of GET /oauth/authorize that this server reads (spec parameters).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AuthorizeQuery {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub login_hint: Option<String>,
    pub max_age: Option<String>,
    pub prompt: Option<String>,
}

/// An authorize query that cannot be read. It keeps `client_id`, `redirect_uri` and
/// `state` when they were unambiguous, so the endpoint can still redirect the error to a
/// registered URI (RFC 6749 4.1.2.1) instead of answering with a 400 page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeQueryError {
    pub detail: String,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub state: Option<String>,
}

impl fmt::Display for AuthorizeQueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for AuthorizeQueryError {}

/// Parses a raw authorize query string the way real clients send it: `+` and `%20` are
/// spaces, `:` and `/` may arrive unencoded ([API]/[TS] do not percent-encode, notes
/// section 1 and ambiguity 7). A parameter given twice is an error (RFC 6749 3.1).
pub fn authorize_query(raw: &str) -> Result<AuthorizeQuery, AuthorizeQueryError> {
    let mut q = AuthorizeQuery::default();
    let mut seen: Vec<&'static str> = Vec::new();
    let mut repeated: Vec<&'static str> = Vec::new();
    let mut bad: Option<String> = None;
    for pair in raw.split('&').filter(|s| !s.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        // Repeats are counted on the key before the value is decoded: a copy whose value
        // is not UTF-8 was still sent, so the parameter is still ambiguous.
        let Ok(key) = form_decode(k) else {
            bad.get_or_insert_with(|| "a query parameter is not valid UTF-8".into());
            continue;
        };
        let value = form_decode(v);
        let (name, slot): (&'static str, &mut Option<String>) = match &*key {
            "client_id" => ("client_id", &mut q.client_id),
            "redirect_uri" => ("redirect_uri", &mut q.redirect_uri),
            "response_type" => ("response_type", &mut q.response_type),
            "scope" => ("scope", &mut q.scope),
            "state" => ("state", &mut q.state),
            "code_challenge" => ("code_challenge", &mut q.code_challenge),
            "code_challenge_method" => ("code_challenge_method", &mut q.code_challenge_method),
            "login_hint" => ("login_hint", &mut q.login_hint),
            "max_age" => ("max_age", &mut q.max_age),
            "prompt" => ("prompt", &mut q.prompt),
            _ => {
                if value.is_err() {
                    bad.get_or_insert_with(|| "a query parameter is not valid UTF-8".into());
                }
                continue;
            }
        };
        if seen.contains(&name) {
            if !repeated.contains(&name) {
                repeated.push(name);
            }
            continue;
        }
        seen.push(name);
        let Ok(value) = value else {
            bad.get_or_insert_with(|| "a query parameter is not valid UTF-8".into());
            continue;
        };
        // An empty value counts as absent (RFC 6749 3.1); a second copy is still a repeat.
        if !value.is_empty() {
            *slot = Some(value.into_owned());
        }
    }
    if repeated.is_empty() && bad.is_none() {
        return Ok(q);
    }
    // A repeated value is ambiguous: it is not kept, so a repeated client_id or
    // redirect_uri can never steer the error redirect.
    for name in &repeated {
        match *name {
            "client_id" => q.client_id = None,
            "redirect_uri" => q.redirect_uri = None,
            "state" => q.state = None,
            _ => {}
        }
    }
    let detail = bad.unwrap_or_else(|| {
        format!(
            "parameter {} is repeated (RFC 6749 3.1)",
            repeated.join(", ")
        )
    });
    Err(AuthorizeQueryError {
        detail,
        client_id: q.client_id,
        redirect_uri: q.redirect_uri,
        state: q.state,
    })
}

/// Exact redirect URI matching: simple string comparison, no normalisation, no prefix or
/// port leniency (RFC 9700 4.1.3, RFC 6749 3.1.2.3, notes ambiguity 6).
pub fn redirect_uri_matches<S: AsRef<str>>(registered: &[S], given: &str) -> bool {
    registered.iter().any(|r| r.as_ref() == given)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_refused() {
        assert!(authorize_query("state=a&state=b").is_err());
        assert!(authorize_query("state=&state=b").is_err());
    }

    #[test]
    fn authorize_spaces_and_raw_urls() {
        let q = authorize_query("scope=a+b%20c&redirect_uri=https://x.example/cb?y=1").unwrap();
        assert_eq!(q.scope.as_deref(), Some("a b c"));
        assert_eq!(q.redirect_uri.as_deref(), Some("https://x.example/cb?y=1"));
    }
}
