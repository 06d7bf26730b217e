//! The API's contract as data, read by every part of the suite that judges a response: the
//! harness's invariants, the remote fuzzer's oracle and the fuzz targets. It lives in a
//! crate of its own, without dependencies, so the cargo-fuzz targets can read the same
//! table as the harness without carrying an HTTP client, and so a change to what counts as
//! a listed status is made once.

/// The API's three operations, and how a request relates to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `GET /oauth/authorize` (and `HEAD`, which HTTP defines with it).
    Authorize,
    /// `POST /oauth/token`.
    Token,
    /// `POST /oauth/revoke`.
    Revoke,
    /// One of their paths with a method the spec does not define for it.
    UndefinedMethod,
    /// A CORS preflight of the token or revoke endpoint.
    Preflight,
}

/// Which operation `method path` addresses, `None` for any other path. `path` is relative
/// to the target's base URL (see [`relative_to`]), as sent: `/oauth/token/` and
/// `/x/oauth/token` are other resources, where a 404 is no defect.
pub fn operation(method: &str, path: &str) -> Option<Operation> {
    let op = match path {
        "/oauth/authorize" => Operation::Authorize,
        "/oauth/token" => Operation::Token,
        "/oauth/revoke" => Operation::Revoke,
        _ => return None,
    };
    Some(match (op, method.to_ascii_uppercase().as_str()) {
        (Operation::Authorize, "GET" | "HEAD") => op,
        (Operation::Token | Operation::Revoke, "POST") => op,
        (Operation::Token | Operation::Revoke, "OPTIONS") => Operation::Preflight,
        _ => Operation::UndefinedMethod,
    })
}

/// `path`, as sent to a target whose base URL has the path `base_path` (`/` or
/// `/tenant`), relative to that base: what [`operation`] reads. `None` for a path outside
/// the base, which addresses no operation of the API.
pub fn relative_to<'a>(base_path: &str, path: &'a str) -> Option<&'a str> {
    let rest = path.strip_prefix(base_path.trim_end_matches('/'))?;
    rest.starts_with('/').then_some(rest)
}

/// The statuses a response to `op` may have: the spec's for the operation, plus what the
/// RFCs let any server answer (413 for a body over its limit, 429 over a rate limit, 415 for
/// a media type it does not read, RFC 7009 2.2.1's 401 and 503 at revoke, 403 for a browser
/// Origin the tenant does not allow, 303 for the authorization redirect, a 200 sign-in
/// page).
pub fn listed(op: Operation) -> &'static [u16] {
    match op {
        Operation::Authorize => &[200, 302, 303, 400, 413, 429],
        Operation::Token => &[200, 400, 401, 403, 413, 415, 429],
        Operation::Revoke => &[200, 400, 401, 403, 413, 415, 429, 503],
        Operation::UndefinedMethod => &[400, 401, 403, 404, 405, 413, 415, 429],
        Operation::Preflight => &[200, 204, 400, 403, 404, 405, 429],
    }
}

/// The statuses a response to `method path` may have, for a path of the three operations;
/// `None` for any other path.
pub fn listed_statuses(method: &str, path: &str) -> Option<&'static [u16]> {
    operation(method, path).map(listed)
}

/// Statuses that are never a server error, for a path the spec does not define: what a
/// reproduction case expects of a path where a 5xx was seen (414 and 431 included, which
/// any server may answer an overlong request line or header block).
pub const NOT_SERVER_ERRORS: &[u16] = &[
    200, 201, 204, 301, 302, 303, 307, 308, 400, 401, 403, 404, 405, 406, 409, 411, 413, 414, 415,
    422, 429, 431,
];

/// Whether the spec documents an `Errors` body for this operation and status.
pub fn documented_error(op: Operation, status: u16) -> bool {
    matches!(
        (op, status),
        (Operation::Token, 400 | 401 | 403)
            | (Operation::Revoke, 400)
            | (Operation::Authorize, 400)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_map_to_their_operation() {
        let table = [
            ("GET", "/oauth/authorize", Some(Operation::Authorize)),
            ("head", "/oauth/authorize", Some(Operation::Authorize)),
            ("POST", "/oauth/authorize", Some(Operation::UndefinedMethod)),
            ("POST", "/oauth/token", Some(Operation::Token)),
            ("post", "/oauth/revoke", Some(Operation::Revoke)),
            ("OPTIONS", "/oauth/revoke", Some(Operation::Preflight)),
            ("GET", "/oauth/token", Some(Operation::UndefinedMethod)),
            ("POST", "/base/oauth/token", None),
            ("GET", "/.x/oauth/authorize", None),
            ("POST", "/oauth/token/", None),
            ("GET", "/.well-known/oauth-authorization-server", None),
        ];
        for (method, path, want) in table {
            assert_eq!(operation(method, path), want, "{method} {path}");
        }
    }

    #[test]
    fn paths_are_read_relative_to_the_base() {
        let table = [
            ("/", "/oauth/token", Some("/oauth/token")),
            ("", "/oauth/token", Some("/oauth/token")),
            ("/tenant", "/tenant/oauth/token", Some("/oauth/token")),
            ("/tenant/", "/tenant/oauth/token", Some("/oauth/token")),
            ("/tenant", "/tenantx/oauth/token", None),
            ("/tenant", "/oauth/token", None),
        ];
        for (base, path, want) in table {
            assert_eq!(relative_to(base, path), want, "{base} {path}");
        }
    }

    #[test]
    fn no_operation_lists_a_server_error_but_revoke_503() {
        for op in [
            Operation::Authorize,
            Operation::Token,
            Operation::Revoke,
            Operation::UndefinedMethod,
            Operation::Preflight,
        ] {
            for s in listed(op) {
                assert!(
                    *s < 500 || (op == Operation::Revoke && *s == 503),
                    "{op:?} lists {s}"
                );
            }
        }
        assert!(NOT_SERVER_ERRORS.iter().all(|s| *s < 500));
    }

    #[test]
    fn documented_errors_are_listed_statuses() {
        for op in [Operation::Authorize, Operation::Token, Operation::Revoke] {
            for s in 100..600 {
                if documented_error(op, s) {
                    assert!(listed(op).contains(&s), "{op:?} {s}");
                }
            }
        }
    }
}
