//! What the generators produce: scenarios in the vocabulary of the case format (`let`
//! bindings, login and request steps, captures), so that the very value a property
//! shrinks to can be written out as a case file and replayed by the harness unchanged.
//! Secrets stay templates (`{{clients.confidential.secret}}`) and signed or random values
//! stay generators, which keeps shrunk scenarios printable and case files shareable.

use qoauth_harness::cases::{self, Capture, Login, Request};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// Where a request's parameters travel, and how they are encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Carrier {
    /// Percent-encoded query string (GET /oauth/authorize).
    Query,
    /// Query joined without percent-encoding, the way @qlik/api and @qlik/sdk send it.
    RawQuery,
    /// `application/json` body.
    Json,
    /// `application/x-www-form-urlencoded` body.
    Form,
    /// A JSON body sent with this Content-Type (`None`: no Content-Type at all).
    JsonAs(Option<String>),
    /// A form body sent with this Content-Type (`None`: no Content-Type at all).
    FormAs(Option<String>),
}

/// One HTTP request, parameters still structured so mutations can work on them.
#[derive(Clone, PartialEq)]
pub struct Req {
    pub method: String,
    pub path: String,
    /// In order; a name may repeat (a duplicated parameter).
    pub params: Vec<(String, Value)>,
    pub carrier: Carrier,
    pub headers: Vec<(String, String)>,
}

impl Req {
    pub fn post(path: &str, params: Vec<(String, Value)>, carrier: Carrier) -> Req {
        Req {
            method: "POST".into(),
            path: path.into(),
            params,
            carrier,
            headers: Vec::new(),
        }
    }

    pub fn get(path: &str, params: Vec<(String, Value)>, carrier: Carrier) -> Req {
        Req {
            method: "GET".into(),
            path: path.into(),
            params,
            carrier,
            headers: Vec::new(),
        }
    }

    pub fn param(&self, name: &str) -> Option<&Value> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    pub fn param_str(&self, name: &str) -> Option<&str> {
        self.param(name).and_then(Value::as_str)
    }

    pub fn set(&mut self, name: &str, v: Value) {
        match self.params.iter_mut().find(|(k, _)| k == name) {
            Some((_, x)) => *x = v,
            None => self.params.push((name.into(), v)),
        }
    }

    pub fn remove(&mut self, name: &str) {
        self.params.retain(|(k, _)| k != name);
    }

    /// The endpoint by path, for findings and case ids.
    pub fn endpoint(&self) -> &'static str {
        if self.path.starts_with("/oauth/authorize") {
            "authorize"
        } else if self.path.starts_with("/oauth/revoke") {
            "revoke"
        } else {
            "token"
        }
    }

    /// The request as a case-format `request`.
    pub fn to_case(&self) -> Request {
        let mut r = Request {
            method: self.method.clone(),
            path: self.path.clone(),
            headers: self.headers.iter().cloned().collect(),
            ..Request::default()
        };
        let has_dup = {
            let mut seen = std::collections::HashSet::new();
            self.params.iter().any(|(k, _)| !seen.insert(k.as_str()))
        };
        match &self.carrier {
            Carrier::Query if !self.params.is_empty() => {
                r.query = Some(grouped(&self.params));
            }
            Carrier::Query => {}
            Carrier::RawQuery => r.raw_query = Some(raw_query(&self.params)),
            Carrier::Json if !has_dup => {
                r.json = Some(Value::Object(self.params.iter().cloned().collect()));
            }
            Carrier::Json => {
                r.headers
                    .entry("content-type".into())
                    .or_insert_with(|| "application/json".into());
                r.body = Some(json_text(&self.params));
            }
            Carrier::Form => r.form = Some(grouped(&self.params)),
            Carrier::JsonAs(ct) => {
                if let Some(ct) = ct {
                    r.headers.insert("content-type".into(), ct.clone());
                }
                r.body = Some(json_text(&self.params));
            }
            Carrier::FormAs(ct) => {
                if let Some(ct) = ct {
                    r.headers.insert("content-type".into(), ct.clone());
                }
                r.body = Some(form_text(&self.params));
            }
        }
        r
    }
}

/// Shrunk inputs print as the case text they become.
fn write_case_json(f: &mut fmt::Formatter<'_>, value: &impl serde::Serialize) -> fmt::Result {
    match serde_json::to_string(value) {
        Ok(text) => f.write_str(&text),
        Err(_) => Err(fmt::Error),
    }
}

impl fmt::Debug for Req {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_case_json(f, &self.to_case())
    }
}

/// Scalar text of a parameter value, as a form or query carries it.
pub fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Parameters as a case-format map: repeated names become arrays, non-strings text.
fn grouped(params: &[(String, Value)]) -> Map<String, Value> {
    let mut m: Map<String, Value> = Map::new();
    for (k, v) in params {
        let t = Value::String(text_of(v));
        match m.get_mut(k) {
            Some(Value::Array(a)) => a.push(t),
            Some(prev) => {
                let p = prev.take();
                *prev = Value::Array(vec![p, t]);
            }
            None => {
                m.insert(k.clone(), t);
            }
        }
    }
    m
}

/// A JSON object text that may repeat a key (serde maps cannot).
fn json_text(params: &[(String, Value)]) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&Value::String(k.clone()).to_string());
        s.push(':');
        s.push_str(&v.to_string());
    }
    s.push('}');
    s
}

/// Form text, percent-encoded except inside `{{templates}}` (rendered later).
fn form_text(params: &[(String, Value)]) -> String {
    params
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                enc_keep_templates(k),
                enc_keep_templates(&text_of(v))
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Query text with values as real clients send them: reserved characters that would
/// split the query are escaped, everything else raw.
fn raw_query(params: &[(String, Value)]) -> String {
    params
        .iter()
        .map(|(k, v)| {
            let t = text_of(v)
                .replace('%', "%25")
                .replace('&', "%26")
                .replace('#', "%23")
                .replace('+', "%2B");
            format!("{k}={t}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn enc_keep_templates(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        let Some(end) = rest[start..].find("}}") else {
            break;
        };
        out.extend(url::form_urlencoded::byte_serialize(
            &rest.as_bytes()[..start],
        ));
        out.push_str(&rest[start..start + end + 2]);
        rest = &rest[start + end + 2..];
    }
    out.extend(url::form_urlencoded::byte_serialize(rest.as_bytes()));
    out
}

/// One step of a scenario.
#[derive(Clone, PartialEq)]
pub enum Step {
    /// Runs the target's login for a client (the case format's `login` step) and
    /// captures the code as `code_var`.
    Login {
        name: String,
        client: String,
        scope: Option<String>,
        state: String,
        challenge: Option<String>,
        code_var: String,
    },
    /// Sends a request, optionally `repeat` times (concurrently when `concurrent`),
    /// capturing JSON fields of the response (name -> pointer).
    Send {
        name: String,
        req: Req,
        capture: Vec<(String, String)>,
        repeat: Option<u32>,
        concurrent: bool,
    },
}

impl Step {
    pub fn send(name: &str, req: Req) -> Step {
        Step::Send {
            name: name.into(),
            req,
            capture: Vec::new(),
            repeat: None,
            concurrent: false,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Step::Login { name, .. } | Step::Send { name, .. } => name,
        }
    }

    /// The step as a case-format step, without expectations.
    pub fn to_case(&self) -> cases::Step {
        match self {
            Step::Login {
                name,
                client,
                scope,
                state,
                challenge,
                code_var,
            } => cases::Step {
                name: Some(name.clone()),
                login: Some(Login {
                    state: Some(state.clone()),
                    scope: scope.clone(),
                    code_challenge: challenge.clone(),
                    ..Login::new(client.as_str())
                }),
                capture: BTreeMap::from([(
                    code_var.clone(),
                    Capture::LocationQuery("code".into()),
                )]),
                ..cases::Step::default()
            },
            Step::Send {
                name,
                req,
                capture,
                repeat,
                concurrent,
            } => cases::Step {
                name: Some(name.clone()),
                request: Some(req.to_case()),
                capture: capture
                    .iter()
                    .map(|(k, p)| (k.clone(), Capture::Json(p.clone())))
                    .collect(),
                repeat: *repeat,
                // The format reads `concurrent` only on a repeated step.
                concurrent: repeat.is_some() && *concurrent,
                ..cases::Step::default()
            },
        }
    }
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_case_json(f, &self.to_case())
    }
}

/// `let` bindings and steps: one generated test input.
#[derive(Clone, PartialEq, Default)]
pub struct Scenario {
    /// Evaluated in order; generators as the case format defines them.
    pub lets: Vec<(String, Value)>,
    pub steps: Vec<Step>,
}

impl Scenario {
    pub fn single(req: Req) -> Scenario {
        Scenario {
            lets: Vec::new(),
            steps: vec![Step::send("request", req)],
        }
    }

    pub fn with_lets(mut self, lets: Vec<(String, Value)>) -> Scenario {
        for (k, v) in lets {
            if !self.lets.iter().any(|(x, _)| *x == k) {
                self.lets.push((k, v));
            }
        }
        self
    }

    pub fn lets_json(&self) -> Map<String, Value> {
        self.lets.iter().cloned().collect()
    }

    /// The last request step, which single-request properties judge.
    pub fn last_req(&self) -> Option<&Req> {
        self.steps.iter().rev().find_map(|s| match s {
            Step::Send { req, .. } => Some(req),
            Step::Login { .. } => None,
        })
    }

    /// The first endpoint a scenario is about (the last request's).
    pub fn endpoint(&self) -> &'static str {
        self.last_req().map_or("authorize", Req::endpoint)
    }
}

impl fmt::Debug for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let steps: Vec<cases::Step> = self.steps.iter().map(Step::to_case).collect();
        f.write_str("{\"let\":")?;
        write_case_json(f, &self.lets_json())?;
        f.write_str(",\"steps\":")?;
        write_case_json(f, &steps)?;
        f.write_str("}")
    }
}
