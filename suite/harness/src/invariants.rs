//! Invariants every response meets, whatever the case that provoked it and whatever its
//! level: no 5xx, an answer at all, a status the spec lists for the operation, an error body
//! a client can read, no secret sent back. An INFO case that records an odd request still
//! fails when the target answers it with a 500: what no clause fixes is the answer's
//! content, never the target's robustness.
//!
//! Each invariant is named after the clause it enforces, so a reader finds it by section.

use crate::cases::{Expect, Matcher};
use crate::exec::{RawExchange, Transport};
use crate::verdict::Observed;
use qoauth_spec::{documented_error, listed, operation, relative_to, Operation, NOT_SERVER_ERRORS};

/// One invariant a response broke.
#[derive(Debug, Clone, PartialEq)]
pub struct Broken {
    /// `no_server_error`, ... (the clause says where it is written)
    pub name: &'static str,
    /// The clause, as a reader would search for it.
    pub clause: &'static str,
    /// What the response did.
    pub detail: String,
    /// The invariant as a case-format `expect`, for a case file that reproduces the break.
    pub expect: Expect,
}

/// The invariants one response breaks. `path` is the request's path as sent, `base_path`
/// the path of the profile's base URL (the operations live under it), `secrets` the named
/// values that must never come back (the profile's client secrets and session credentials,
/// as [`crate::profile::Profile::secrets`] names them).
pub fn check(
    method: &str,
    path: &str,
    base_path: &str,
    obs: &Observed,
    secrets: &[(String, String)],
) -> Vec<Broken> {
    let mut out = Vec::new();
    let op = relative_to(base_path, path).and_then(|p| operation(method, p));
    let statuses = op.map_or(NOT_SERVER_ERRORS, listed);
    // RFC 7009 2.2.1 lets the revocation endpoint answer 503 ("temporarily unavailable").
    let revoke_busy = op == Some(Operation::Revoke) && obs.status == 503;
    if obs.status >= 500 && !revoke_busy {
        out.push(Broken {
            name: "no_server_error",
            clause: "RFC 9110 15.6; spec (no operation lists a 5xx)",
            detail: format!("{method} {path} answered {}", obs.status),
            expect: Expect::status(statuses),
        });
    } else if let Some(op) = op {
        if !listed(op).contains(&obs.status) {
            out.push(Broken {
                name: "listed_status",
                clause: "spec responses of the operation; RFC 9110 15",
                detail: format!(
                    "{method} {path} answered {}, which the spec does not list for it (listed or allowed: {:?})",
                    obs.status,
                    listed(op)
                ),
                expect: Expect::status(statuses),
            });
        }
        if documented_error(op, obs.status) && method != "HEAD" {
            // The schema leaves `errors` optional; a client that reads errors[0] (as the
            // official ones do) needs it, so an envelope here has at least one.
            let readable = obs.json().ok().is_some_and(|doc| {
                crate::spec::check("Errors", &doc).is_ok()
                    && doc
                        .get("errors")
                        .and_then(serde_json::Value::as_array)
                        .is_some_and(|e| !e.is_empty())
            });
            if !readable {
                out.push(Broken {
                    name: "errors_envelope",
                    clause: "spec Errors (the documented error body of the operation)",
                    detail: format!(
                        "{method} {path} answered {} without an Errors envelope",
                        obs.status
                    ),
                    expect: Expect::default()
                        .with_schema("Errors")
                        .with_json("/errors/0/code", Matcher::of_type("string"))
                        .with_json("/errors/0/title", Matcher::of_type("string")),
                });
            }
        }
    }
    let body = String::from_utf8_lossy(&obs.body);
    for (name, secret) in secrets.iter().filter(|(_, s)| s.len() >= 8) {
        let echoed = body.contains(secret.as_str())
            || obs.headers.iter().any(|(_, v)| v.contains(secret.as_str()));
        if echoed {
            out.push(Broken {
                name: "secret_not_echoed",
                clause: "RFC 6749 10.3; RFC 6749 2.3.1",
                detail: format!("{method} {path}: the response carries the profile's {name}"),
                expect: Expect::default()
                    .with_body(Matcher::not_contains(format!("{{{{{name}}}}}"))),
            });
            break;
        }
    }
    out
}

/// The invariants one exchange breaks: its response's, or its transport failure's.
pub fn check_exchange(
    ex: &RawExchange,
    base_path: &str,
    secrets: &[(String, String)],
) -> Vec<Broken> {
    match (&ex.response, &ex.error) {
        (Some(obs), _) => check(
            &ex.request.method,
            ex.request.url.path(),
            base_path,
            obs,
            secrets,
        ),
        (None, Some(e)) => check_transport(e).into_iter().collect(),
        (None, None) => Vec::new(),
    }
}

/// The invariant a transport failure breaks: the target took the request and gave no
/// readable answer (a timeout, a dropped connection, a body past the cap), or redirected off
/// the allowed hosts. A target that is not there at all (connection refused), or stopped
/// answering earlier in the run, and the run's own limits leave the case unjudged instead:
/// an error, not a failure.
pub fn check_transport(error: &Transport) -> Option<Broken> {
    let detail = error.to_string();
    match error {
        Transport::Timeout(_) | Transport::Other(_) | Transport::BodyTooLarge(_) => Some(Broken {
            name: "target_answers",
            clause: "RFC 9110 9.3 (a request gets a response); the profile's request timeout and body cap",
            detail,
            expect: Expect::default(),
        }),
        Transport::OffHost(_) => Some(Broken {
            name: "redirects_stay_on_allowed_hosts",
            clause: "RFC 9700 4.11 (open redirection); the profile's allowed_hosts",
            detail,
            expect: Expect::default(),
        }),
        Transport::Connect(_)
        | Transport::Stalled(_)
        | Transport::TooManyRedirects(_)
        | Transport::BudgetSpent
        | Transport::Unsendable(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(status: u16, body: &str) -> Observed {
        Observed {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
            url: "http://127.0.0.1/oauth/token".parse().unwrap(),
        }
    }

    const ENVELOPE: &str =
        r#"{"errors":[{"code":"OAUTH-3","title":"Invalid request","status":"400"}]}"#;

    #[test]
    fn each_invariant_breaks_on_its_own_defect_only() {
        let secrets = vec![(
            "clients.confidential.secret".to_string(),
            "s3cret-value-123".to_string(),
        )];
        let names = |method: &str, path: &str, o: &Observed| -> Vec<&'static str> {
            check(method, path, "/", o, &secrets)
                .iter()
                .map(|b| b.name)
                .collect()
        };
        let cases: &[(&str, &str, Observed, &[&str])] = &[
            ("POST", "/oauth/token", obs(400, ENVELOPE), &[]),
            (
                "POST",
                "/oauth/token",
                obs(200, r#"{"access_token":"x"}"#),
                &[],
            ),
            (
                "GET",
                "/oauth/authorize",
                obs(500, ""),
                &["no_server_error"],
            ),
            ("POST", "/oauth/revoke", obs(503, ""), &[]),
            ("POST", "/oauth/token", obs(302, ""), &["listed_status"]),
            (
                "POST",
                "/oauth/token",
                obs(401, "<html>no</html>"),
                &["errors_envelope"],
            ),
            (
                "POST",
                "/oauth/token",
                obs(400, r#"{"error":"invalid_request"}"#),
                &["errors_envelope"],
            ),
            ("PUT", "/oauth/token", obs(405, ""), &[]),
            ("POST", "/oauth/revoke", obs(401, ENVELOPE), &[]),
            ("POST", "/oauth/token/", obs(404, ""), &[]),
            (
                "GET",
                "/.well-known/oauth-authorization-server",
                obs(404, ""),
                &[],
            ),
            (
                "POST",
                "/oauth/token",
                obs(
                    401,
                    r#"{"errors":[{"code":"x","title":"bad secret s3cret-value-123"}]}"#,
                ),
                &["secret_not_echoed"],
            ),
        ];
        for (method, path, o, want) in cases {
            assert_eq!(
                &names(method, path, o),
                want,
                "{method} {path} {}",
                o.status
            );
        }
    }

    #[test]
    fn operations_are_the_paths_under_the_base_url() {
        let names = |path: &str, base: &str, o: &Observed| -> Vec<&'static str> {
            check("GET", path, base, o, &[])
                .iter()
                .map(|b| b.name)
                .collect()
        };
        // Another resource whose path merely ends like an operation's: its 404 is no defect.
        assert!(names("/.x/oauth/authorize", "/", &obs(404, "")).is_empty());
        // Under a base path, the operation is judged there and only there.
        assert_eq!(
            names("/tenant/oauth/authorize", "/tenant", &obs(404, "")),
            ["listed_status"]
        );
        assert!(names("/oauth/authorize", "/tenant", &obs(404, "")).is_empty());
    }

    #[test]
    fn transport_failures_of_the_target_break_an_invariant_those_of_the_run_do_not() {
        assert!(check_transport(&Transport::Timeout(std::time::Duration::from_secs(1))).is_some());
        assert!(check_transport(&Transport::OffHost("evil".into())).is_some());
        assert!(check_transport(&Transport::BudgetSpent).is_none());
        assert!(check_transport(&Transport::Connect("refused".into())).is_none());
    }
}
