//! The rules the properties enforce, each a check of one run scenario. A broken rule
//! comes back as the case-format expectation that the failing step breaks, so the
//! shrunk scenario plus that expectation is a ready scenario case.

use crate::exec::{Executed, Stop};
use crate::gen;
use crate::scenario::{Scenario, Step};
use qoauth_harness::cases::{Expect, Matcher};
use qoauth_harness::exec::{Prepared, RawExchange, Transport};
use qoauth_harness::profile::Profile;
use qoauth_harness::verdict::Observed;
use serde_json::Value;
use std::collections::BTreeMap;

/// Statuses a case file accepts as "not a server error": every status a conforming
/// server plausibly sends on these endpoints.
pub const NON_5XX: &[u16] = &[
    200, 201, 204, 301, 302, 303, 307, 308, 400, 401, 403, 404, 405, 406, 409, 411, 413, 414, 415,
    422, 429, 431,
];

/// A rule that did not hold.
#[derive(Debug, Clone)]
pub struct Violation {
    /// The step whose response breaks the rule.
    pub step: usize,
    pub expected: String,
    /// What was seen; raw, redacted before it is reported.
    pub actual: String,
    /// The case-format `expect` of that step.
    pub expect: Expect,
    /// The step's `expect_count`: how many of a repeated step's answers may have each
    /// status, for rules about racing requests.
    pub expect_count: BTreeMap<String, Matcher>,
    /// Expectations earlier steps must meet for the case to reach the failing one.
    pub pre: Vec<(usize, Expect)>,
}

/// What a check concluded.
#[derive(Debug, Clone)]
pub enum Verdict {
    Held,
    Broken(Box<Violation>),
    /// The scenario could not reach what the rule is about (no code was issued...).
    NotApplicable(String),
}

/// The invariants every response meets (see `qoauth_harness::invariants`), over every
/// response of a scenario: the first one broken, as a violation of the step that broke it.
/// Transport failures are left to the property that judges them
/// (`rfc9110_15_6_no_server_error_or_hang`) and to the run's stall watch.
pub fn invariants(ex: &Executed, profile: &Profile) -> Option<Box<Violation>> {
    let secrets = profile.secrets();
    for run in &ex.steps {
        for e in run.exchanges.iter().filter(|e| e.response.is_some()) {
            let broken =
                qoauth_harness::invariants::check_exchange(e, profile.base_url.path(), &secrets);
            if let Some(b) = broken.into_iter().next() {
                return Some(Box::new(Violation {
                    step: run.index,
                    expected: format!("invariant {} ({})", b.name, b.clause),
                    actual: b.detail,
                    expect: b.expect,
                    expect_count: BTreeMap::new(),
                    pre: Vec::new(),
                }));
            }
        }
    }
    None
}

pub struct Ctx<'a> {
    pub profile: &'a Profile,
    pub now: i64,
    /// Whether a failure will be shrunk: only the shrinker reads how far a model-based
    /// sequence got.
    pub shrinking: bool,
}

/// A step's request parameters as sent: query, JSON body or form body.
pub fn sent_params(p: &Prepared) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = p
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if let Some(b) = &p.body {
        let ct = p.header("content-type").unwrap_or("").to_ascii_lowercase();
        if let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(b) {
            for (k, v) in o {
                out.push((k, crate::scenario::text_of(&v)));
            }
        } else if ct.contains("form") || ct.is_empty() {
            out.extend(
                url::form_urlencoded::parse(b).map(|(k, v)| (k.into_owned(), v.into_owned())),
            );
        }
    }
    out
}

fn sent<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn exchanges(ex: &Executed) -> impl Iterator<Item = (usize, &RawExchange)> {
    ex.steps
        .iter()
        .flat_map(|s| s.exchanges.iter().map(move |e| (s.index, e)))
}

fn broken(
    step: usize,
    expected: impl Into<String>,
    actual: impl Into<String>,
    expect: Expect,
) -> Verdict {
    Verdict::Broken(Box::new(Violation {
        step,
        expected: expected.into(),
        actual: actual.into(),
        expect,
        expect_count: BTreeMap::new(),
        pre: Vec::new(),
    }))
}

fn snippet(o: &Observed) -> String {
    let t = o.text();
    let s: String = t.chars().take(160).collect();
    if s.is_empty() {
        format!("status {}", o.status)
    } else {
        format!("status {} with body {s}", o.status)
    }
}

fn is_token(p: &Prepared) -> bool {
    p.url.path() == gen::TOKEN && p.method == "POST"
}

/// No request gets a 5xx, and every request gets a complete response in time.
pub fn no_server_error(_: &Ctx, _: &Scenario, ex: &Executed) -> Verdict {
    if let Some(Stop::Transport { step, error }) = &ex.stop {
        if !matches!(error, Transport::BudgetSpent) {
            return broken(
                *step,
                "a complete response within the request timeout",
                error.to_string(),
                Expect::status(NON_5XX),
            );
        }
    }
    for (i, e) in exchanges(ex) {
        if let Some(o) = &e.response {
            if o.status >= 500 {
                return broken(i, "a status below 500", snippet(o), Expect::status(NON_5XX));
            }
        }
    }
    Verdict::Held
}

/// Every 4xx is an `Errors` envelope whose entries' `status` is the HTTP status.
pub fn error_envelope(_: &Ctx, _: &Scenario, ex: &Executed) -> Verdict {
    for (i, e) in exchanges(ex) {
        let Some(o) = &e.response else { continue };
        if !(400..500).contains(&o.status) {
            continue;
        }
        // A 405 for a method the spec does not define may be bare: RFC 9110 15.5.6 asks
        // only for Allow, and the spec documents no body for it.
        if o.status == 405 && o.body.is_empty() {
            continue;
        }
        let status = o.status.to_string();
        let expect = Expect::status(o.status)
            .with_schema("Errors")
            .with_json("/errors/0/status", Matcher::equals(status.as_str()))
            .with_json("/errors/0/code", Matcher::of_type("string"))
            .with_json("/errors/0/title", Matcher::of_type("string"));
        let doc = match o.json() {
            Ok(d) => d,
            Err(why) => {
                return broken(
                    i,
                    format!("an Errors envelope with status \"{status}\""),
                    why.to_string(),
                    expect,
                )
            }
        };
        if let Err(errs) = qoauth_harness::spec::check("Errors", &doc) {
            return broken(
                i,
                "a body matching the Errors schema",
                errs.join("; "),
                expect,
            );
        }
        let Some(list) = doc
            .get("errors")
            .and_then(Value::as_array)
            .filter(|l| !l.is_empty())
        else {
            return broken(i, "a non-empty errors array", snippet(o), expect);
        };
        for (n, item) in list.iter().enumerate() {
            let st = item.get("status");
            if st.and_then(Value::as_str) != Some(status.as_str()) {
                let expect = expect.clone().with_json(
                    format!("/errors/{n}/status"),
                    Matcher::equals(status.as_str()),
                );
                return broken(
                    i,
                    format!("/errors/{n}/status equals \"{status}\""),
                    format!(
                        "{} (HTTP status {status})",
                        st.map_or("absent".to_string(), Value::to_string)
                    ),
                    expect,
                );
            }
            for field in ["code", "title"] {
                if !item.get(field).is_some_and(Value::is_string) {
                    return broken(
                        i,
                        format!("/errors/{n}/{field} is a string"),
                        snippet(o),
                        expect,
                    );
                }
            }
        }
    }
    Verdict::Held
}

fn token_successes(ex: &Executed) -> impl Iterator<Item = (usize, &Observed)> {
    exchanges(ex).filter_map(|(i, e)| {
        e.response
            .as_ref()
            .filter(|o| o.status == 200 && is_token(&e.request))
            .map(|o| (i, o))
    })
}

/// Every 200 from /oauth/token matches `oauth-token-response`.
pub fn token_schema(_: &Ctx, _: &Scenario, ex: &Executed) -> Verdict {
    for (i, o) in token_successes(ex) {
        let expect = Expect::status(200).with_schema("oauth-token-response");
        match o.json() {
            Err(why) => {
                return broken(
                    i,
                    "a body matching oauth-token-response",
                    why.to_string(),
                    expect,
                )
            }
            Ok(doc) => {
                if let Err(errs) = qoauth_harness::spec::check("oauth-token-response", &doc) {
                    return broken(
                        i,
                        "a body matching oauth-token-response",
                        errs.join("; "),
                        expect,
                    );
                }
            }
        }
    }
    Verdict::Held
}

/// Every 200 from /oauth/token carries `Cache-Control: no-store` (RFC 6749 5.1).
pub fn token_no_store(_: &Ctx, _: &Scenario, ex: &Executed) -> Verdict {
    for (i, o) in token_successes(ex) {
        let cc = o.header("cache-control").unwrap_or_default();
        if !cc.to_ascii_lowercase().contains("no-store") {
            return broken(
                i,
                "Cache-Control contains no-store",
                if cc.is_empty() {
                    "no Cache-Control".to_string()
                } else {
                    format!("Cache-Control: {cc}")
                },
                Expect::status(200).with_header("cache-control", Matcher::contains("no-store")),
            );
        }
    }
    Verdict::Held
}

/// A regular expression for an ISO date no earlier than this year.
fn year_at_least(year: i32) -> String {
    let d: Vec<u32> = format!("{:04}", year.clamp(1000, 9999))
        .chars()
        .filter_map(|c| c.to_digit(10))
        .collect();
    let mut alts = vec![format!("{}{}{}[{}-9]", d[0], d[1], d[2], d[3])];
    if d[2] < 9 {
        alts.push(format!("{}{}[{}-9]\\d", d[0], d[1], d[2] + 1));
    }
    if d[1] < 9 {
        alts.push(format!("{}[{}-9]\\d\\d", d[0], d[1] + 1));
    }
    if d[0] < 9 {
        alts.push(format!("[{}-9]\\d{{3}}", d[0] + 1));
    }
    format!("^({})-", alts.join("|"))
}

/// Every 200 from /oauth/token states an expiry, and it lies in the future.
pub fn token_future_expiry(ctx: &Ctx, _: &Scenario, ex: &Executed) -> Verdict {
    let year = time::OffsetDateTime::from_unix_timestamp(ctx.now)
        .map(|t| t.year())
        .unwrap_or(2026);
    for (i, o) in token_successes(ex) {
        let Ok(doc) = o.json() else { continue };
        let expires_in = doc.get("expires_in");
        let expires_at = doc.get("expires_at");
        let mut expect = Expect::status(200);
        if expires_in.is_some() || expires_at.is_none() {
            expect = expect.with_json(
                "/expires_in",
                Matcher {
                    min: Some(1.0),
                    ..Matcher::of_type("number")
                },
            );
        }
        if expires_at.is_some() {
            expect = expect.with_json(
                "/expires_at",
                Matcher {
                    matches: Some(year_at_least(year)),
                    ..Matcher::of_type("string")
                },
            );
        }
        match expires_in {
            Some(Value::Number(n)) if n.as_f64().is_some_and(|x| x >= 1.0) => {}
            None if expires_at.is_some() => {}
            other => {
                return broken(
                    i,
                    "expires_in is a number of seconds >= 1",
                    other.map_or("absent".to_string(), Value::to_string),
                    expect,
                )
            }
        }
        if let Some(at) = expires_at {
            let parsed = at.as_str().and_then(|s| {
                time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
            });
            match parsed {
                Some(t) if t.unix_timestamp() > ctx.now => {}
                _ => {
                    return broken(
                        i,
                        "expires_at is an RFC 3339 time in the future",
                        at.to_string(),
                        expect,
                    )
                }
            }
        }
    }
    Verdict::Held
}

/// The registered redirect URIs of the client a request names.
fn client_redirects<'a>(profile: &'a Profile, client_id: Option<&str>) -> Vec<&'a str> {
    profile
        .clients
        .values()
        .filter(|c| Some(c.id.as_str()) == client_id)
        .filter_map(|c| c.redirect_uri.as_deref())
        .collect()
}

fn same_host(profile: &Profile, u: &url::Url) -> bool {
    u.host_str() == profile.base_url.host_str()
        && u.port_or_known_default() == profile.base_url.port_or_known_default()
}

fn without_query(u: &url::Url) -> String {
    let mut x = u.clone();
    x.set_query(None);
    x.set_fragment(None);
    x.to_string()
}

/// Authorize redirects only to the target itself or a URI registered for the client.
pub fn authorize_registered_redirect(ctx: &Ctx, _: &Scenario, ex: &Executed) -> Verdict {
    for (i, e) in exchanges(ex) {
        let Some(o) = &e.response else { continue };
        if e.request.url.path() != gen::AUTHORIZE {
            continue;
        }
        let Some(loc) = o.location() else { continue };
        if same_host(ctx.profile, &loc) {
            continue;
        }
        let params = sent_params(&e.request);
        let registered = client_redirects(ctx.profile, sent(&params, "client_id"));
        let target = without_query(&loc);
        if !registered.iter().any(|r| *r == target) {
            let sent_uri = sent(&params, "redirect_uri").unwrap_or("");
            let not = if sent_uri.is_empty() || registered.contains(&sent_uri) {
                target.clone()
            } else {
                sent_uri.to_string()
            };
            return broken(
                i,
                format!(
                    "no redirect, or a redirect to a registered URI ({})",
                    registered.join(", ")
                ),
                format!("status {} Location {}", o.status, without_query(&loc)),
                Expect::default().with_not_redirect_uri(not),
            );
        }
    }
    Verdict::Held
}

/// Every redirect back to the client carries the `state` the client sent.
pub fn authorize_returns_state(ctx: &Ctx, _: &Scenario, ex: &Executed) -> Verdict {
    for (i, e) in exchanges(ex) {
        let Some(o) = &e.response else { continue };
        if e.request.url.path() != gen::AUTHORIZE {
            continue;
        }
        let Some(loc) = o.location() else { continue };
        if same_host(ctx.profile, &loc) {
            continue;
        }
        let params = sent_params(&e.request);
        let Some(state) = sent(&params, "state").filter(|s| !s.is_empty()) else {
            continue;
        };
        if params.iter().filter(|(k, _)| k == "state").count() > 1 {
            continue;
        }
        let got = o.location_param("state");
        if got.as_deref() != Some(state) {
            return broken(
                i,
                format!("Location query state equals {state:?}"),
                format!(
                    "state {}",
                    got.map_or("absent".to_string(), |g| format!("{g:?}"))
                ),
                Expect::default().with_location_query("state", Matcher::equals(state)),
            );
        }
    }
    Verdict::Held
}

/// Whether a step got a 200.
fn step_ok(ex: &Executed, step: usize) -> Option<bool> {
    ex.step(step)
        .and_then(|s| s.last())
        .map(|o| o.status == 200)
}

fn step_status(ex: &Executed, step: usize) -> Option<u16> {
    ex.step(step).and_then(|s| s.last()).map(|o| o.status)
}

fn login_gave_code(ex: &Executed) -> Result<(), String> {
    if ex.vars.contains_key("code") {
        return Ok(());
    }
    Err(match &ex.stop {
        Some(s) => format!("no authorization code: {s:?}"),
        None => "the login gave no authorization code".into(),
    })
}

const REFUSED: &[u16] = &[400, 401];

/// Scenario shape: login (0), redeem with a verifier (1). Only the matching one redeems.
pub fn only_matching_verifier(_: &Ctx, sc: &Scenario, ex: &Executed) -> Verdict {
    if let Err(why) = login_gave_code(ex) {
        return Verdict::NotApplicable(why);
    }
    let Some(Step::Send { req, .. }) = sc.steps.get(1) else {
        return Verdict::NotApplicable("no redemption step".into());
    };
    let Some(status) = step_status(ex, 1) else {
        return Verdict::NotApplicable("the redemption got no response".into());
    };
    let matching = req.param_str("code_verifier")
        == sc
            .lets
            .iter()
            .find(|(k, _)| k == "verifier_text")
            .and_then(|(_, v)| v.as_str());
    if matching && status != 200 {
        return broken(
            1,
            "the matching verifier redeems the code (status 200)",
            format!("status {status}"),
            Expect::status(200),
        );
    }
    if !matching && status == 200 {
        return broken(
            1,
            "a verifier that does not match is refused (400 or 401)",
            "status 200: the code was redeemed",
            Expect::status(REFUSED),
        );
    }
    Verdict::Held
}

/// Scenario shape: login (0), redeem (1), redeem again (2).
pub fn code_single_use(_: &Ctx, _: &Scenario, ex: &Executed) -> Verdict {
    if let Err(why) = login_gave_code(ex) {
        return Verdict::NotApplicable(why);
    }
    if step_ok(ex, 1) != Some(true) {
        return Verdict::NotApplicable(format!(
            "the first redemption failed ({:?})",
            step_status(ex, 1)
        ));
    }
    if step_ok(ex, 2) == Some(true) {
        let mut v = Violation {
            step: 2,
            expected: "a code redeemed once is refused (400 or 401)".into(),
            actual: "status 200: the code was redeemed twice".into(),
            expect: Expect::status(REFUSED),
            expect_count: BTreeMap::new(),
            pre: vec![(1, Expect::status(200))],
        };
        v.pre.sort_by_key(|p| p.0);
        return Verdict::Broken(Box::new(v));
    }
    Verdict::Held
}

/// Scenario shape: login (0), redeem (1), refresh (2), refresh with the first token (3).
pub fn refresh_single_use(_: &Ctx, _: &Scenario, ex: &Executed) -> Verdict {
    if let Err(why) = login_gave_code(ex) {
        return Verdict::NotApplicable(why);
    }
    if step_ok(ex, 1) != Some(true) || !ex.vars.contains_key("refresh_token") {
        return Verdict::NotApplicable("the redemption gave no refresh token".into());
    }
    if step_ok(ex, 2) != Some(true) {
        return Verdict::NotApplicable(format!(
            "the first refresh failed ({:?})",
            step_status(ex, 2)
        ));
    }
    if ex.var_str("rotated") == ex.var_str("refresh_token") {
        // Not rotated (RFC 6749 6: a new refresh token is a MAY): no token was rotated
        // out, so the rule holds; the old token staying valid is the design, not a replay.
        return Verdict::Held;
    }
    if step_ok(ex, 3) == Some(true) {
        return Verdict::Broken(Box::new(Violation {
            step: 3,
            expected: "a rotated-out refresh token is refused (400 or 401)".into(),
            actual: "status 200: the old refresh token worked again".into(),
            expect: Expect::status(REFUSED),
            expect_count: BTreeMap::new(),
            pre: vec![
                (1, Expect::status(200)),
                (
                    2,
                    Expect::status(200)
                        .with_json("/refresh_token", Matcher::not_equals("{{refresh_token}}")),
                ),
            ],
        }));
    }
    Verdict::Held
}

/// Scenario shape: login (0), redeem (1), revoke (2), use the revoked token (3).
pub fn revoked_unusable(_: &Ctx, _: &Scenario, ex: &Executed) -> Verdict {
    if let Err(why) = login_gave_code(ex) {
        return Verdict::NotApplicable(why);
    }
    if step_ok(ex, 1) != Some(true) {
        return Verdict::NotApplicable("the redemption failed".into());
    }
    match step_status(ex, 2) {
        Some(s) if s / 100 == 2 => {}
        other => return Verdict::NotApplicable(format!("the revocation was refused ({other:?})")),
    }
    if step_ok(ex, 3) == Some(true) {
        return Verdict::Broken(Box::new(Violation {
            step: 3,
            expected: "a revoked token is refused (400 or 401)".into(),
            actual: "status 200: the revoked token still worked".into(),
            expect: Expect::status(REFUSED),
            expect_count: BTreeMap::new(),
            pre: vec![(1, Expect::status(200)), (2, Expect::status(200))],
        }));
    }
    Verdict::Held
}

/// Scenario shape: a client assertion used (0) and used again (1).
pub fn assertion_single_use(_: &Ctx, _: &Scenario, ex: &Executed) -> Verdict {
    if step_ok(ex, 0) != Some(true) {
        return Verdict::NotApplicable(format!(
            "the first use of the assertion failed ({:?})",
            step_status(ex, 0)
        ));
    }
    if step_ok(ex, 1) == Some(true) {
        return Verdict::Broken(Box::new(Violation {
            step: 1,
            expected: "a replayed client assertion (same jti) is refused (400 or 401)".into(),
            actual: "status 200: the assertion was accepted twice".into(),
            expect: Expect::status(REFUSED),
            expect_count: BTreeMap::new(),
            pre: vec![(0, Expect::status(200))],
        }));
    }
    Verdict::Held
}

fn scope_set(s: &str) -> Vec<&str> {
    s.split_whitespace().collect()
}

fn regex_escape(s: &str) -> String {
    let mut o = String::new();
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

/// A regex that matches a space-separated subset of `names` (children allowed).
fn subset_regex(names: &[&str]) -> String {
    let alt = names
        .iter()
        .map(|n| regex_escape(n))
        .collect::<Vec<_>>()
        .join("|");
    format!("^((?:{alt})(?::[^ ]+)?( (?:{alt})(?::[^ ]+)?)*)?$")
}

/// Granted scope is within what was asked (a parent implies its children), never holds
/// a forbidden scope, and an empty request never brings offline_access.
pub fn scope_never_widens(ctx: &Ctx, sc: &Scenario, ex: &Executed) -> Verdict {
    let mut chain_grant: Option<Vec<String>> = None;
    for (i, e) in exchanges(ex) {
        let Some(o) = &e.response else { continue };
        if o.status != 200 || !is_token(&e.request) {
            continue;
        }
        let Ok(doc) = o.json() else { continue };
        let Some(granted) = doc.get("scope").and_then(Value::as_str) else {
            continue;
        };
        let params = sent_params(&e.request);
        let grant = sent(&params, "grant_type").unwrap_or("");
        let mut requested: Option<String> = sent(&params, "scope").map(str::to_string);
        if grant == gen::GRANT_CODE {
            // The code's scope is the login's; a scope on the redemption is ignored.
            requested = sc.steps.iter().find_map(|s| match s {
                Step::Login { scope, .. } => Some(scope.clone().unwrap_or_default()),
                _ => None,
            });
        }
        let g = scope_set(granted);
        for f in &ctx.profile.scopes_forbidden {
            if g.contains(&f.as_str()) {
                return broken(
                    i,
                    format!("granted scope never holds the forbidden {f}"),
                    format!("scope {granted:?}"),
                    Expect::status(200).with_json("/scope", Matcher::not_contains(f.as_str())),
                );
            }
        }
        let requested = requested.filter(|r| !r.trim().is_empty());
        match &requested {
            Some(r) => {
                let rs = scope_set(r);
                let ok = g
                    .iter()
                    .all(|x| rs.iter().any(|y| x == y || x.starts_with(&format!("{y}:"))));
                if !ok {
                    return broken(
                        i,
                        format!("granted scope within the requested {r:?}"),
                        format!("scope {granted:?}"),
                        Expect::status(200)
                            .with_json("/scope", Matcher::matches(subset_regex(&rs))),
                    );
                }
            }
            None if grant != gen::GRANT_REFRESH && g.contains(&"offline_access") => {
                return broken(
                    i,
                    "offline_access is never granted unless requested",
                    format!("scope {granted:?}"),
                    Expect::status(200)
                        .with_json("/scope", Matcher::not_contains("offline_access")),
                );
            }
            None => {}
        }
        if grant == gen::GRANT_REFRESH {
            if let Some(prev) = &chain_grant {
                let ok = g.iter().all(|x| prev.iter().any(|y| x == y));
                if !ok {
                    let names: Vec<&str> = prev.iter().map(String::as_str).collect();
                    return broken(
                        i,
                        format!(
                            "a refresh grants no more than the original {:?}",
                            prev.join(" ")
                        ),
                        format!("scope {granted:?}"),
                        Expect::status(200)
                            .with_json("/scope", Matcher::matches(subset_regex(&names))),
                    );
                }
            }
        }
        if grant == gen::GRANT_CODE || grant == gen::GRANT_REFRESH {
            chain_grant = Some(g.iter().map(|x| x.to_string()).collect());
        }
    }
    Verdict::Held
}

/// Values a request submitted that a response must never repeat: client secrets,
/// verifiers, assertions, codes, Basic credentials.
fn submitted_secrets(e: &RawExchange, out: &mut Vec<(String, String)>) {
    for (k, v) in sent_params(&e.request) {
        if [
            "client_secret",
            "code_verifier",
            "client_assertion",
            "code",
            "password",
        ]
        .contains(&k.as_str())
            && v.len() >= 8
        {
            out.push((k, v));
        }
    }
    if let Some(a) = e.request.header("authorization") {
        if let Some(cred) = a.strip_prefix("Basic ") {
            if cred.trim().len() >= 8 {
                out.push(("basic".into(), cred.trim().to_string()));
            }
        }
    }
}

/// No response body, header or redirect repeats a secret the client has sent so far
/// (or any client secret of the profile).
pub fn secrets_not_echoed(ctx: &Ctx, sc: &Scenario, ex: &Executed) -> Verdict {
    let mut secrets: Vec<(String, String)> = ctx
        .profile
        .secrets()
        .into_iter()
        .filter(|(_, v)| v.len() >= 8)
        .collect();
    for (i, e) in exchanges(ex) {
        submitted_secrets(e, &mut secrets);
        let Some(o) = &e.response else { continue };
        let body = o.text();
        for (name, value) in &secrets {
            let in_body = body.contains(value.as_str());
            let in_header = o.headers.iter().any(|(_, hv)| hv.contains(value.as_str()));
            if in_body || in_header {
                let template = template_for(ctx, sc, name, value);
                let expect = if in_body {
                    Expect::default().with_body(Matcher::not_contains(template))
                } else {
                    let h = o
                        .headers
                        .iter()
                        .find(|(_, hv)| hv.contains(value.as_str()))
                        .map(|(k, _)| k.clone())
                        .unwrap_or_default();
                    Expect::default().with_header(h, Matcher::not_contains(template))
                };
                return broken(
                    i,
                    format!("the response never repeats the submitted {name}"),
                    format!(
                        "the {} contains the {name}",
                        if in_body { "body" } else { "headers" }
                    ),
                    expect,
                );
            }
        }
    }
    Verdict::Held
}

/// How a case file names a secret without holding it: a profile template when it is
/// one, else the let that made it, else the literal (generated test values only).
fn template_for(ctx: &Ctx, sc: &Scenario, name: &str, value: &str) -> String {
    for (role, c) in &ctx.profile.clients {
        if c.secret.as_deref() == Some(value) {
            return format!("{{{{clients.{role}.secret}}}}");
        }
    }
    match name {
        "client_assertion" => "{{assertion}}".into(),
        "code" => "{{code}}".into(),
        "basic" if sc.lets.iter().any(|(k, _)| k == "basic") => "{{basic}}".into(),
        _ => value.to_string(),
    }
}

fn race(ex: &Executed, step: usize, what: &str, pre: Vec<(usize, Expect)>) -> Verdict {
    let Some((ok, n)) = crate::flows::at_most_one_success(ex, step) else {
        return Verdict::NotApplicable(format!("the racing step did not run ({:?})", ex.stop));
    };
    if ok > 1 {
        return Verdict::Broken(Box::new(Violation {
            step,
            expected: format!("at most one of {n} racing {what} succeeds"),
            actual: format!("{ok} of {n} got status 200"),
            expect: Expect::default(),
            expect_count: BTreeMap::from([(
                "200".to_string(),
                Matcher {
                    max: Some(1.0),
                    ..Matcher::default()
                },
            )]),
            pre,
        }));
    }
    Verdict::Held
}

/// Scenario shape: login (0), n concurrent redemptions (1).
pub fn code_race(_: &Ctx, _: &Scenario, ex: &Executed) -> Verdict {
    if let Err(why) = login_gave_code(ex) {
        return Verdict::NotApplicable(why);
    }
    race(ex, 1, "redemptions of one code", Vec::new())
}

/// Scenario shape: login (0), redeem (1), n concurrent refreshes (2).
pub fn refresh_race(_: &Ctx, _: &Scenario, ex: &Executed) -> Verdict {
    if let Err(why) = login_gave_code(ex) {
        return Verdict::NotApplicable(why);
    }
    if step_ok(ex, 1) != Some(true) || !ex.vars.contains_key("refresh_token") {
        return Verdict::NotApplicable("the redemption gave no refresh token".into());
    }
    // A server that does not rotate (RFC 6749 6: a new refresh token is a MAY) answers
    // every racer with the token it was given: none of them invalidated it.
    let presented = ex.var_str("refresh_token");
    let rotated = ex.step(2).is_some_and(|s| {
        s.responses().filter(|o| o.status == 200).any(|o| {
            o.json()
                .ok()
                .and_then(|d| {
                    d.get("refresh_token")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .is_some_and(|r| Some(r.as_str()) != presented)
        })
    });
    if !rotated {
        return Verdict::Held;
    }
    race(
        ex,
        2,
        "refreshes of one refresh token",
        vec![(1, Expect::status(200))],
    )
}
