//! From a case and a profile to concrete requests: whether the case can run at all,
//! `let` bindings, rendered requests and authorize URLs, and the `--dry-run` listing.

use crate::cases::{Case, Login, Request};
use crate::exec::Prepared;
use crate::profile::{LoginMode, Profile};
use crate::redact::Redactor;
use crate::template::{generate, Bindings, TemplateError, Volatility};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

/// Why a case's `let` bindings or a step's request could not be prepared. The run reports
/// it as the case's error; nothing of the step is sent.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("let {name}")]
    Let { name: String, source: TemplateError },
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// `url` is the text as rendered, so a template that broke it shows.
    #[error("{url:?} is not a valid URL")]
    Url {
        url: String,
        source: url::ParseError,
    },
    #[error("cannot encode the JSON body")]
    Body { source: serde_json::Error },
    #[error("the profile has no {client} client")]
    NoClient { client: String },
    #[error("the profile's {client} client has no redirect_uri")]
    NoRedirectUri { client: String },
    #[error("the profile has no {user} user")]
    NoUser { user: String },
    #[error("the profile's {user} user has no login_hint")]
    NoLoginHint { user: String },
    /// The case schema refuses such a step; a case built in code may still have one.
    #[error("{step}: neither request nor login")]
    NoAction { step: String },
}

/// Why a case cannot run on this profile, or `None` when it can.
pub fn skip_reason(case: &Case, profile: &Profile) -> Option<String> {
    for cap in case.required_capabilities() {
        if let Some(why) = profile.missing(&cap) {
            return Some(format!("needs {cap}: {why}"));
        }
    }
    if let Err(why) = case.wait_seconds(profile) {
        return Some(why.to_string());
    }
    if case.destructive && !profile.allow_destructive {
        return Some(
            "destructive case (changes lasting state); the profile does not set allow_destructive"
                .into(),
        );
    }
    None
}

/// Evaluates the case's `let` bindings in order; random values are registered with the
/// redactor under the binding's name.
pub fn bind_lets(case: &Case, b: &mut Bindings, redactor: &mut Redactor) -> Result<(), PlanError> {
    for (name, gen) in &case.lets {
        let (v, vol) = generate(gen, b).map_err(|source| PlanError::Let {
            name: name.clone(),
            source,
        })?;
        if vol == Volatility::Random {
            let text = match &v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            redactor.register(name, &text);
        }
        b.vars.insert(name.clone(), v);
    }
    Ok(())
}

fn text_of(v: Value) -> String {
    match v {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Renders a form or query map (values are strings or arrays, arrays repeat the key).
fn render_pairs(
    map: &serde_json::Map<String, Value>,
    b: &Bindings,
) -> Result<Vec<(String, String)>, TemplateError> {
    let mut out = Vec::new();
    for (k, v) in map {
        let key = b.render_text(k)?;
        match b.render(v)? {
            Value::Array(items) => {
                for i in items {
                    out.push((key.clone(), text_of(i)));
                }
            }
            other => out.push((key, text_of(other))),
        }
    }
    Ok(out)
}

fn encode_pairs(pairs: &[(String, String)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

fn build_url(base: &str, path: &str, query: Option<&str>) -> Result<url::Url, PlanError> {
    let mut text = format!("{base}{path}");
    if let Some(q) = query {
        text.push('?');
        text.push_str(q);
    }
    url::Url::parse(&text).map_err(|source| PlanError::Url { url: text, source })
}

/// Renders a request step.
pub fn prepare_request(req: &Request, b: &Bindings) -> Result<Prepared, PlanError> {
    let path = b.render_text(&req.path)?;
    let query = match (&req.query, &req.raw_query) {
        (Some(q), _) => Some(encode_pairs(&render_pairs(q, b)?)),
        (None, Some(raw)) => Some(b.render_text(raw)?),
        (None, None) => None,
    };
    let url = build_url(b.profile.base(), &path, query.as_deref())?;
    let mut headers = Vec::new();
    for (k, v) in &req.headers {
        headers.push((k.to_ascii_lowercase(), b.render_text(v)?));
    }
    let has_ct = headers.iter().any(|(k, _)| k == "content-type");
    let body = if let Some(j) = &req.json {
        if !has_ct {
            headers.push(("content-type".into(), "application/json".into()));
        }
        Some(serde_json::to_vec(&b.render(j)?).map_err(|source| PlanError::Body { source })?)
    } else if let Some(f) = &req.form {
        if !has_ct {
            headers.push((
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
        }
        Some(encode_pairs(&render_pairs(f, b)?).into_bytes())
    } else if let Some(raw) = &req.body {
        Some(b.render_text(raw)?.into_bytes())
    } else {
        None
    };
    Ok(Prepared {
        method: req.method.clone(),
        url,
        headers,
        body,
    })
}

/// Renders a login step's first request (GET /oauth/authorize) and the redirect URI the
/// login ends at.
pub fn prepare_login(login: &Login, b: &Bindings) -> Result<(Prepared, String), PlanError> {
    let profile = b.profile;
    let client = profile
        .clients
        .get(&login.client)
        .ok_or_else(|| PlanError::NoClient {
            client: login.client.clone(),
        })?;
    let redirect_uri = match &login.redirect_uri {
        Some(r) => b.render_text(r)?,
        None => client
            .redirect_uri
            .clone()
            .ok_or_else(|| PlanError::NoRedirectUri {
                client: login.client.clone(),
            })?,
    };
    let mut params: Vec<(String, String)> = vec![
        ("response_type".into(), "code".into()),
        ("client_id".into(), client.id.clone()),
        ("redirect_uri".into(), redirect_uri.clone()),
    ];
    let scope = match &login.scope {
        Some(s) => Some(b.render_text(s)?),
        None => client.scope.clone(),
    };
    if let Some(s) = scope {
        params.push(("scope".into(), s));
    }
    if let Some(s) = &login.state {
        params.push(("state".into(), b.render_text(s)?));
    }
    if let Some(c) = &login.code_challenge {
        params.push(("code_challenge".into(), b.render_text(c)?));
        params.push(("code_challenge_method".into(), "S256".into()));
    }
    if matches!(profile.login, LoginMode::LoginHint) {
        let user = profile
            .users
            .get(&login.user)
            .ok_or_else(|| PlanError::NoUser {
                user: login.user.clone(),
            })?;
        let hint = user
            .login_hint
            .clone()
            .or_else(|| user.email.clone())
            .ok_or_else(|| PlanError::NoLoginHint {
                user: login.user.clone(),
            })?;
        params.push(("login_hint".into(), hint));
    }
    for (k, v) in &login.query {
        let v = b.render_text(v)?;
        if let Some(slot) = params.iter_mut().find(|(pk, _)| pk == k) {
            slot.1 = v;
        } else {
            params.push((k.clone(), v));
        }
    }
    let url = build_url(
        profile.base(),
        "/oauth/authorize",
        Some(&encode_pairs(&params)),
    )?;
    Ok((
        Prepared {
            method: "GET".into(),
            url,
            headers: Vec::new(),
            body: None,
        },
        redirect_uri,
    ))
}

/// One request the run would send, redacted.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedRequest {
    pub step: String,
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Sent this many times (repeat), at once when `concurrent`.
    pub times: u32,
    pub concurrent: bool,
    /// Logins continue with the target's redirects, which cannot be known in advance.
    pub login: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedCase {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub requests: Vec<PlannedRequest>,
}

/// Lists every request a run would send, without sending any. Values captured from
/// responses show as `<capture:name>`.
pub fn dry_run(cases: &[Arc<Case>], profile: &Profile) -> Vec<PlannedCase> {
    cases.iter().map(|c| plan_case(c, profile)).collect()
}

fn plan_case(case: &Case, profile: &Profile) -> PlannedCase {
    let mut planned = PlannedCase {
        id: case.id.clone(),
        skip: skip_reason(case, profile),
        error: None,
        requests: Vec::new(),
    };
    if planned.skip.is_some() {
        return planned;
    }
    let mut redactor = Redactor::for_profile(profile).keep_base_url();
    let mut b = Bindings::new(profile);
    b.placeholders_for_unbound = true;
    let result: Result<(), PlanError> = (|| {
        bind_lets(case, &mut b, &mut redactor)?;
        for (i, step) in case.steps.iter().enumerate() {
            let label = step.label(i);
            if step.wait.is_some() {
                continue;
            }
            let (prep, login) = if let Some(r) = &step.request {
                (prepare_request(r, &b)?, false)
            } else if let Some(l) = &step.login {
                (prepare_login(l, &b)?.0, true)
            } else {
                return Err(PlanError::NoAction { step: label });
            };
            for name in step.capture.keys() {
                b.vars
                    .insert(name.clone(), Value::String(format!("<capture:{name}>")));
            }
            let ct = prep.header("content-type").map(str::to_string);
            for (k, v) in &prep.headers {
                redactor.scan_header(k, v);
            }
            if let Some(q) = prep.url.query() {
                redactor.scan_form(q);
            }
            let body = prep
                .body
                .as_ref()
                .and_then(|bd| redactor.body(bd, ct.as_deref()));
            let headers = prep
                .headers
                .iter()
                .filter_map(|(k, v)| redactor.header(k, v).map(|v| (k.clone(), v)))
                .collect();
            planned.requests.push(PlannedRequest {
                step: label,
                method: prep.method.clone(),
                url: redactor.text(prep.url.as_str()),
                headers,
                body,
                times: step.repeat.unwrap_or(1),
                concurrent: step.concurrent,
                login,
            });
        }
        Ok(())
    })();
    if let Err(e) = result {
        planned.error = Some(redactor.text(&crate::error_chain(&e)));
    }
    planned
}
