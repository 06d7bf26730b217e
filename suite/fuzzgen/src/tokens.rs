//! The protocol's vocabulary: the words a request to the three endpoints is made of.
//!
//! One list feeds both the structure-aware generator (so random bytes land on meaningful
//! parameter names and values) and the libFuzzer dictionary (so byte-level mutation can splice
//! the same words into parser inputs).

/// Request paths the reference serves, plus near misses that exercise routing edges.
pub const PATHS: &[&str] = &[
    "/oauth/authorize",
    "/oauth/token",
    "/oauth/revoke",
    "/.well-known/oauth-authorization-server",
    "/login",
    "/oauth/login",
    "/",
    "/oauth/token/",
    "/oauth/TOKEN",
    "/oauth//token",
    "/oauth/token/anonymous-embed",
    "/oauth/authorize/../token",
    "/.well-known/jwks.json",
];

/// Parameter names of RFC 6749, 7009, 7523, 7636, 8693, OIDC and the Qlik extensions.
pub const PARAMS: &[&str] = &[
    "grant_type",
    "client_id",
    "client_secret",
    "scope",
    "code",
    "redirect_uri",
    "code_verifier",
    "code_challenge",
    "code_challenge_method",
    "refresh_token",
    "response_type",
    "state",
    "nonce",
    "prompt",
    "max_age",
    "login_hint",
    "client_assertion",
    "client_assertion_type",
    "subject_token",
    "subject_token_type",
    "actor_token",
    "actor_token_type",
    "requested_token_type",
    "purpose",
    "audience",
    "resource",
    "token",
    "token_type_hint",
    "user_lookup",
    "user_lookup[field]",
    "user_lookup[value]",
    "field",
    "value",
    "deviceType",
    "error",
    "error_code",
    "error_detail",
];

/// Values with protocol meaning: grant types, URNs, methods, hints, user lookup fields.
pub const VALUES: &[&str] = &[
    "client_credentials",
    "authorization_code",
    "refresh_token",
    "password",
    "implicit",
    "urn:qlik:oauth:user-impersonation",
    "urn:qlik:oauth:anonymous-embed",
    "urn:ietf:params:oauth:grant-type:token-exchange",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    "urn:ietf:params:oauth:token-type:access_token",
    "urn:ietf:params:oauth:token-type:refresh_token",
    "urn:ietf:params:oauth:token-type:jwt",
    "urn:ietf:params:oauth:token-type:id_token",
    "code",
    "token",
    "id_token",
    "S256",
    "plain",
    "none",
    "login",
    "consent",
    "select_account",
    "access_token",
    "websocket",
    "webresource",
    "subject",
    "userId",
    "email",
    "0",
    "-1",
    "300",
    "18446744073709551616",
    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
    "eyJhbGciOiJub25lIn0.e30.",
    "eyJhbGciOiJFUzM4NCIsInR5cCI6IkpXVCIsImtpZCI6ImFzc2VydGlvbi1lczM4NCJ9",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
    "https://",
    "http://127.0.0.1:8765/",
    "%20",
    "%00",
    "%",
    "+",
    "&",
    "=",
    "[]",
];

/// Header names a client or an attacker would send to these endpoints.
pub const HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "accept",
    "origin",
    "cookie",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "host",
    "referer",
    "content-encoding",
    "transfer-encoding",
    "x-qlik-xrfkey",
    "qlik-csrf-token",
    "user-agent",
];

/// Authorization schemes, so generated headers reach every client authentication branch.
pub const AUTH_SCHEMES: &[&str] = &["Basic ", "Bearer ", "basic ", "BASIC ", "Digest ", "Basic"];

/// Content types, including the parameters and near misses that body parsers must handle.
pub const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/x-www-form-urlencoded",
    "application/json; charset=utf-8",
    "application/x-www-form-urlencoded; charset=UTF-8",
    "APPLICATION/JSON",
    "application/json;charset=latin1",
    "text/plain",
    "multipart/form-data; boundary=x",
    "application/jwt",
    "application/",
    "",
];

/// Every list above, in one iterator, for the dictionary writer.
pub fn all() -> impl Iterator<Item = &'static str> {
    PATHS
        .iter()
        .chain(PARAMS)
        .chain(VALUES)
        .chain(HEADERS)
        .chain(AUTH_SCHEMES)
        .chain(CONTENT_TYPES)
        .copied()
}
