//! The invariants of each cargo-fuzz target, as plain functions that panic on a violation.
//!
//! `fuzz/fuzz_targets/*.rs` are one-line wrappers around these, and the regression test
//! replays every saved input through the same functions, so a crash once found stays
//! covered by `cargo test` on stable.

use std::borrow::Cow;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine as _;
use http_body_util::BodyExt as _;
use qoauth_reference::parse::{self, Params, ParseErrorKind};
use qoauth_reference::{ApiError, Fixture};
use tower::ServiceExt as _;

use crate::oracle::{check_envelope_value, Observed, Oracle};
use crate::request::{FuzzRequest, HttpRequest, TokenTable};
use crate::vocabulary::Vocabulary;

/// Target names, as `fuzz/fuzz_targets/<name>.rs` and `fuzz/corpus/<name>/` spell them.
pub const TARGETS: &[&str] = &[
    "token_body",
    "revoke_body",
    "authorize_query",
    "basic_header",
    "client_assertion",
    "redirect_uri",
    "fixture",
    "router",
];

/// The clock the client assertion target validates against, so seeds signed for this
/// instant stay valid forever and a finding replays identically.
pub const ASSERTION_NOW: u64 = 1_800_000_000;

/// The audience the client assertion target expects (the token endpoint URL).
pub const ASSERTION_AUDIENCE: &str = "http://127.0.0.1:8080/oauth/token";

/// A response slower than this is a finding of the router target.
pub const ROUTER_TIME_BOUND: Duration = Duration::from_secs(2);

/// Runs one target's checks on one input; panics with the violated invariant.
pub fn run(target: &str, data: &[u8]) {
    match target {
        "token_body" => token_body(data),
        "revoke_body" => revoke_body(data),
        "authorize_query" => authorize_query(data),
        "basic_header" => basic_header(data),
        "client_assertion" => client_assertion(data),
        "redirect_uri" => redirect_uri(data),
        "fixture" => fixture(data),
        "router" => router(data),
        other => panic!("unknown fuzz target {other}"),
    }
}

fn fixture_secrets() -> &'static Vec<String> {
    static SECRETS: OnceLock<Vec<String>> = OnceLock::new();
    SECRETS.get_or_init(|| {
        Vocabulary::default_fixture()
            .secrets()
            .into_iter()
            .map(str::to_string)
            .collect()
    })
}

/// An error must become a 4xx `Errors` envelope whose detail echoes no secret of the input.
fn assert_maps_to_envelope(error: &ApiError, input: &[u8]) {
    let status = error.status.as_u16();
    assert!(
        (400..500).contains(&status),
        "parse error maps to HTTP {status}"
    );
    // The same tree `serde_json::to_vec` would print, without printing and re-reading it:
    // that round trip through text cost a quarter of each parser target's time.
    let body = serde_json::to_value(error.envelope()).expect("envelope serializes");
    if let Err(problem) = check_envelope_value(status, &body) {
        panic!("parse error maps to a bad envelope: {problem}");
    }
    // The detail is short and the input up to the length limit: look in the detail first.
    let detail = error.detail.as_ref();
    for secret in fixture_secrets() {
        assert!(
            !(detail.contains(secret.as_str()) && contains(input, secret.as_bytes())),
            "error detail echoes a client secret"
        );
    }
}

/// Byte-string search: the input need not be valid UTF-8 for a secret to be found in it.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

/// Splits `content type \n body`: the format of the body targets' inputs.
fn split_content_type(data: &[u8]) -> (Option<&str>, &[u8]) {
    let Some(newline) = data.iter().position(|b| *b == b'\n') else {
        return (None, data);
    };
    match std::str::from_utf8(&data[..newline]) {
        Ok(content_type) if content_type != "-" => (Some(content_type), &data[newline + 1..]),
        _ => (None, &data[newline + 1..]),
    }
}

/// The flat parameters of a parsed body, in the names both encodings share.
fn flat<'p>(params: &'p Params) -> impl Iterator<Item = (&'static str, &'p str)> {
    let fields: [(&'static str, &Option<Cow<str>>); 15] = [
        ("grant_type", &params.grant_type),
        ("client_id", &params.client_id),
        ("client_secret", &params.client_secret),
        ("client_assertion", &params.client_assertion),
        ("client_assertion_type", &params.client_assertion_type),
        ("scope", &params.scope),
        ("code", &params.code),
        ("redirect_uri", &params.redirect_uri),
        ("code_verifier", &params.code_verifier),
        ("refresh_token", &params.refresh_token),
        ("subject_token", &params.subject_token),
        ("subject_token_type", &params.subject_token_type),
        ("purpose", &params.purpose),
        ("token", &params.token),
        ("token_type_hint", &params.token_type_hint),
    ];
    fields
        .into_iter()
        .filter_map(|(name, value)| value.as_deref().map(|v| (name, v)))
}

fn to_form(params: &Params) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (name, value) in flat(params) {
        form.append_pair(name, value);
    }
    if params.user_lookup_present {
        form.append_pair(
            "user_lookup[field]",
            params.user_lookup_field.as_deref().unwrap_or(""),
        );
        if let Some(value) = &params.user_lookup_value {
            form.append_pair("user_lookup[value]", value);
        }
    }
    form.finish()
}

fn to_json(params: &Params) -> String {
    let mut object = serde_json::Map::new();
    for (name, value) in flat(params) {
        object.insert(name.to_string(), value.into());
    }
    if params.user_lookup_present {
        let mut lookup = serde_json::Map::new();
        if let Some(field) = &params.user_lookup_field {
            lookup.insert("field".into(), field.to_string().into());
        }
        if let Some(value) = &params.user_lookup_value {
            lookup.insert("value".into(), value.to_string().into());
        }
        object.insert("user_lookup".into(), lookup.into());
    }
    serde_json::Value::Object(object).to_string()
}

/// Parsed parameters survive serialization to either encoding and parsing again.
fn assert_round_trips(
    parsed: &Params,
    parser: for<'a> fn(Option<&str>, &'a [u8]) -> Result<Params<'a>, parse::ParseError>,
) {
    // `Cow` compares by content: a value borrowed from one body equals one unescaped
    // from another.
    let form = to_form(parsed);
    match parser(Some("application/x-www-form-urlencoded"), form.as_bytes()) {
        Ok(again) => assert_eq!(&again, parsed, "form round trip changed the request"),
        Err(error) => panic!("form round trip refused: {error}"),
    }
    let json = to_json(parsed);
    match parser(Some("application/json"), json.as_bytes()) {
        Ok(again) => assert_eq!(&again, parsed, "JSON round trip changed the request"),
        Err(error) => panic!("JSON round trip refused: {error}"),
    }
}

/// Token body (`content type \n body`): accepted bodies round-trip through both encodings;
/// refused ones map to a 4xx envelope, 415 exactly when the content type is neither.
pub fn token_body(data: &[u8]) {
    let (content_type, body) = split_content_type(data);
    match parse::token_request(content_type, body) {
        Ok(parsed) => {
            assert!(parse::body_kind(content_type).is_ok());
            assert_round_trips(&parsed, parse::token_request);
        }
        Err(error) => {
            let unsupported = parse::body_kind(content_type).is_err();
            assert_eq!(
                error.kind == ParseErrorKind::UnsupportedMediaType,
                unsupported,
                "415 if and only if the content type is unsupported"
            );
            let api = error.to_api_error();
            if unsupported {
                assert_eq!(api.status.as_u16(), 415);
            }
            assert_maps_to_envelope(&api, data);
        }
    }
}

/// Revoke body: as the token body, and an accepted body always names a token.
pub fn revoke_body(data: &[u8]) {
    let (content_type, body) = split_content_type(data);
    match parse::revoke_request(content_type, body) {
        Ok(parsed) => {
            assert!(parsed.token.is_some(), "revoke accepted without a token");
            assert_round_trips(&parsed, parse::revoke_request);
        }
        Err(error) => {
            if let Ok(token_params) = parse::token_request(content_type, body) {
                assert!(
                    token_params.token.is_none(),
                    "revoke refused a body the token parser reads with a token"
                );
            }
            assert_maps_to_envelope(&error.to_api_error(), data);
        }
    }
}

const AUTHORIZE_KEYS: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "login_hint",
    "max_age",
    "prompt",
];

fn authorize_fields(query: &parse::AuthorizeQuery) -> [(&'static str, Option<&str>); 10] {
    [
        ("client_id", query.client_id.as_deref()),
        ("redirect_uri", query.redirect_uri.as_deref()),
        ("response_type", query.response_type.as_deref()),
        ("scope", query.scope.as_deref()),
        ("state", query.state.as_deref()),
        ("code_challenge", query.code_challenge.as_deref()),
        (
            "code_challenge_method",
            query.code_challenge_method.as_deref(),
        ),
        ("login_hint", query.login_hint.as_deref()),
        ("max_age", query.max_age.as_deref()),
        ("prompt", query.prompt.as_deref()),
    ]
}

/// Authorize query: agrees with an independent form decoder (the `form_urlencoded` crate)
/// on every known parameter, refuses exactly the repeated ones, never keeps a repeated
/// client_id/redirect_uri/state for the error redirect, and round-trips when re-encoded.
pub fn authorize_query(data: &[u8]) {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let model: Vec<(Cow<str>, Cow<str>)> = form_urlencoded::parse(raw.as_bytes()).collect();
    // One pass over the pairs: queries of thousands of pairs must not cost keys x pairs.
    // Count and first value per known key, indexed as AUTHORIZE_KEYS (no hashing per pair).
    let mut known: [(usize, &str); AUTHORIZE_KEYS.len()] = [(0, ""); AUTHORIZE_KEYS.len()];
    for (key, value) in &model {
        if let Some(index) = AUTHORIZE_KEYS.iter().position(|name| *name == key) {
            let slot = &mut known[index];
            if slot.0 == 0 {
                slot.1 = value;
            }
            slot.0 += 1;
        }
    }
    let first_value = |name: &str| {
        AUTHORIZE_KEYS
            .iter()
            .position(|known_name| *known_name == name)
            .map(|index| known[index])
            .filter(|(count, _)| *count > 0)
            .map(|(_, value)| value)
    };
    let repeated: Vec<&str> = AUTHORIZE_KEYS
        .iter()
        .zip(&known)
        .filter(|(_, (count, _))| *count > 1)
        .map(|(name, _)| *name)
        .collect();
    match parse::authorize_query(raw) {
        Ok(query) => {
            assert!(repeated.is_empty(), "accepted repeated {repeated:?}");
            for (name, value) in authorize_fields(&query) {
                let expected = first_value(name).filter(|value| !value.is_empty());
                assert_eq!(value, expected, "{name} differs from the form decoding");
            }
            let mut encoded = form_urlencoded::Serializer::new(String::new());
            for (name, value) in authorize_fields(&query) {
                if let Some(value) = value {
                    encoded.append_pair(name, value);
                }
            }
            let again = parse::authorize_query(&encoded.finish()).expect("re-encoded query parses");
            assert_eq!(again, query, "authorize query round trip changed it");
        }
        Err(error) => {
            // The model decodes invalid UTF-8 to U+FFFD where the parser refuses it.
            let lossy = || {
                raw.contains('%')
                    && model
                        .iter()
                        .any(|(k, v)| k.contains('\u{FFFD}') || v.contains('\u{FFFD}'))
                    && !raw.contains('\u{FFFD}')
            };
            assert!(
                !repeated.is_empty() || lossy() || raw.contains('\u{FFFD}'),
                "refused a query without repeats or bad UTF-8: {}",
                error.detail
            );
            for name in &repeated {
                let kept = match *name {
                    "client_id" => error.client_id.is_some(),
                    "redirect_uri" => error.redirect_uri.is_some(),
                    "state" => error.state.is_some(),
                    _ => false,
                };
                if kept {
                    eprintln!("repeated parameter kept: {name}");
                }
                // One message for the three names, so a known finding matches by message.
                assert!(
                    !kept,
                    "a repeated client_id, redirect_uri or state was kept for the error redirect"
                );
            }
            let known_detail = error.detail == "a query parameter is not valid UTF-8"
                || (error.detail.starts_with("parameter ")
                    && error.detail.ends_with(" is repeated (RFC 6749 3.1)"));
            assert!(
                known_detail,
                "error detail may echo input: {}",
                error.detail
            );
        }
    }
}

/// Basic header: what it accepts re-encodes (form-encoded parts, base64) to a header that
/// decodes to the same credentials; other schemes are passed over; refusals are 401s.
pub fn basic_header(data: &[u8]) {
    match parse::basic_authorization(data) {
        Ok(Some(credentials)) => {
            assert!(!credentials.client_id.is_empty());
            let encode =
                |part: &str| form_urlencoded::byte_serialize(part.as_bytes()).collect::<String>();
            let header = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    encode(&credentials.client_id),
                    encode(&credentials.client_secret)
                ))
            );
            let again = parse::basic_authorization(header.as_bytes())
                .expect("re-encoded Basic header parses")
                .expect("re-encoded Basic header is Basic");
            assert_eq!(
                again, credentials,
                "Basic round trip changed the credentials"
            );
        }
        Ok(None) => {
            let text = String::from_utf8_lossy(data);
            let scheme = text.trim().split(' ').next().unwrap_or("");
            assert!(
                !scheme.eq_ignore_ascii_case("basic"),
                "a Basic header was passed over as another scheme"
            );
        }
        Err(error) => {
            assert_eq!(error.kind, ParseErrorKind::BadClientAuth);
            let api = error.to_api_error();
            assert_eq!(
                api.status.as_u16(),
                401,
                "bad Basic credentials must be a 401"
            );
            assert_maps_to_envelope(&api, data);
        }
    }
}

fn default_fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(Fixture::default_fixture)
}

/// Client ids the assertion target picks from by the input's first byte.
pub const ASSERTION_CLIENTS: &[&str] = &[
    "web-assertion",
    "web-confidential",
    "native-public",
    "nobody",
];

/// Client assertion (`client selector byte, JWT`): an accepted assertion names the chosen
/// client as issuer, uses a registered kid with an allowed alg, is unexpired and within
/// the lifetime limit; refusals are 401 envelopes.
pub fn client_assertion(data: &[u8]) {
    let Some((selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(assertion) = std::str::from_utf8(rest) else {
        return;
    };
    let client_id = ASSERTION_CLIENTS[*selector as usize % ASSERTION_CLIENTS.len()];
    let fixture = default_fixture();
    match parse::client_assertion(
        fixture,
        client_id,
        assertion,
        ASSERTION_AUDIENCE,
        ASSERTION_NOW,
    ) {
        Ok(claims) => {
            assert_eq!(claims.client_id, client_id);
            assert_eq!(
                parse::assertion_issuer(assertion).as_deref(),
                Some(client_id)
            );
            let header = jsonwebtoken::decode_header(assertion).expect("accepted JWT has a header");
            assert!(matches!(
                header.alg,
                jsonwebtoken::Algorithm::RS256
                    | jsonwebtoken::Algorithm::RS512
                    | jsonwebtoken::Algorithm::ES384
            ));
            assert_eq!(header.kid.as_deref(), Some(claims.kid.as_str()));
            let spec = fixture
                .spec()
                .clients
                .iter()
                .find(|client| client.client_id == client_id)
                .expect("accepted for a fixture client");
            let key = spec
                .public_keys
                .iter()
                .find(|key| key.kid == claims.kid)
                .expect("accepted kid is registered");
            assert_eq!(
                format!("{:?}", header.alg),
                key.alg,
                "alg differs from the key's"
            );
            let max = fixture.spec().limits.max_assertion_lifetime_seconds;
            assert!(claims.exp > ASSERTION_NOW, "accepted an expired assertion");
            assert!(claims.exp >= claims.iat && claims.exp - claims.iat <= max);
            assert!(!claims.jti.is_empty());
        }
        Err(error) => {
            assert_eq!(error.kind, ParseErrorKind::BadClientAuth);
            let api = error.to_api_error();
            assert_eq!(api.status.as_u16(), 401);
            assert_maps_to_envelope(&api, data);
        }
    }
}

/// Redirect URI (`given \n registered...`): a match is string equality, no normalization
/// (RFC 9700 4.1.3); and the URI read back from an authorize query, whether form-encoded or
/// sent raw, matches exactly when the URI itself does.
pub fn redirect_uri(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let given = lines.next().unwrap_or("");
    let registered: Vec<&str> = lines.take(5).collect();
    let matched = parse::redirect_uri_matches(&registered, given);
    assert_eq!(
        matched,
        registered.contains(&given),
        "redirect matching is not exact string equality"
    );
    if given.is_empty() {
        return;
    }
    let form: String = form_urlencoded::byte_serialize(given.as_bytes()).collect();
    // Raw, the way @qlik/api sends it: only what the query syntax needs is escaped.
    let raw = given
        .replace('%', "%25")
        .replace('+', "%2B")
        .replace('&', "%26")
        .replace('#', "%23")
        .replace(' ', "%20");
    for query in [
        format!("redirect_uri={form}"),
        format!("redirect_uri={raw}"),
    ] {
        let parsed = parse::authorize_query(&query).expect("a single redirect_uri parses");
        assert_eq!(
            parsed.redirect_uri.as_deref(),
            Some(given),
            "query decoding changed the URI"
        );
        assert_eq!(
            parse::redirect_uri_matches(&registered, parsed.redirect_uri.as_deref().unwrap_or("")),
            matched
        );
    }
}

/// Fixture: an accepted fixture serializes and loads back to the same spec, every redirect
/// URI of it is absolute; a refused one names the JSON path at fault.
pub fn fixture(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse::fixture(text) {
        Ok(loaded) => {
            let written = serde_json::to_string(loaded.spec()).expect("spec serializes");
            let again = parse::fixture(&written)
                .unwrap_or_else(|error| panic!("a loaded fixture does not load back: {error}"));
            assert_eq!(again.spec(), loaded.spec(), "fixture round trip changed it");
            for client in &loaded.spec().clients {
                for uri in &client.redirect_uris {
                    assert!(
                        url::Url::parse(uri).is_ok(),
                        "relative redirect URI accepted"
                    );
                }
            }
        }
        Err(error) => {
            if error.path().is_empty() {
                eprintln!("fixture error: {error}");
            }
            assert!(!error.path().is_empty(), "fixture error without a path");
        }
    }
}

struct RouterHarness {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    table: TokenTable,
    oracle: Oracle,
}

/// The router target's fixture: the default one with every rate limit and the token cap out
/// of reach. The app keeps state between inputs (issued tokens, rate windows); without
/// limits to reach, what an input gets back does not depend on the inputs before it, so a
/// finding reproduces on its own and coverage does not drift as a run goes on (the default
/// fixture's `web-limited` client answered 429 to all but 5 requests per window). The 429
/// and token-cap answers are for the cases and the reference's own tests to cover.
fn router_fixture() -> Fixture {
    let mut spec = Fixture::default_fixture().spec().clone();
    let out_of_reach = u64::from(u32::MAX);
    spec.rate_limits.tier1 = out_of_reach;
    spec.rate_limits.tier2 = out_of_reach;
    for client in &mut spec.clients {
        client.rate_limit = None;
        client.max_tokens_per_user = None;
    }
    spec.limits.max_tokens_per_user_client = u64::MAX;
    Fixture::from_spec(spec).expect("the default fixture with its limits raised is valid")
}

fn router_harness() -> &'static RouterHarness {
    static HARNESS: OnceLock<RouterHarness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let vocabulary = Vocabulary::default_fixture();
        RouterHarness {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("current-thread runtime"),
            router: qoauth_reference::router(router_fixture()),
            table: TokenTable::new(&vocabulary),
            oracle: Oracle::new(&vocabulary, None, ROUTER_TIME_BOUND),
        }
    })
}

fn http_request(request: &HttpRequest) -> Option<http::Request<axum::body::Body>> {
    let mut builder = http::Request::builder()
        .method(request.method.as_str())
        .uri(request.path_and_query());
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder
        .body(axum::body::Body::from(request.body.clone()))
        .ok()
}

/// Router: a structured request through the whole app in process. No panic, no 5xx, every
/// error an `Errors` envelope with the HTTP status, an answer within the time bound, no
/// fixture secret echoed, no redirect to an unregistered URI.
pub fn router(data: &[u8]) {
    let harness = router_harness();
    let Some((request, observed)) = router_exchange(data) else {
        return;
    };
    let anomalies = harness.oracle.check(&request, &observed);
    assert!(
        anomalies.is_empty(),
        "{} {}: {anomalies:?}",
        request.method,
        request.path
    );
}

/// One router input as the request it renders to and the app's answer; `None` when the
/// request is not expressible in HTTP (the fuzzer's problem, not the app's).
pub fn router_exchange(data: &[u8]) -> Option<(HttpRequest, Observed)> {
    let harness = router_harness();
    let request = FuzzRequest::from_bytes(data).render(&harness.table);
    let http_request = http_request(&request)?;
    let started = Instant::now();
    let observed = harness.runtime.block_on(async {
        let response = harness
            .router
            .clone()
            .oneshot(http_request)
            .await
            .expect("the router is infallible");
        let status = response.status().as_u16();
        let headers = Observed::header_pairs(response.headers());
        let body = response
            .into_body()
            .collect()
            .await
            .expect("in-process bodies do not fail")
            .to_bytes()
            .to_vec();
        Observed {
            status,
            headers,
            body,
            elapsed: started.elapsed(),
            truncated: false,
        }
    });
    Some((request, observed))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Statuses of `n` client_credentials requests of the rate-limited client, in order.
    fn limited_client_statuses(fixture: Fixture, n: usize) -> Vec<u16> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("current-thread runtime");
        let router = qoauth_reference::router(fixture);
        let client = fixture_client("web-limited");
        (0..n)
            .map(|_| {
                let request = http::Request::post("/oauth/token")
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(axum::body::Body::from(format!(
                        "grant_type=client_credentials&client_id={}&client_secret={}",
                        client.client_id, client.secrets[0]
                    )))
                    .expect("a valid request");
                runtime
                    .block_on(router.clone().oneshot(request))
                    .expect("the router is infallible")
                    .status()
                    .as_u16()
            })
            .collect()
    }

    fn fixture_client(id: &str) -> qoauth_reference::fixture::ClientSpec {
        Fixture::default_fixture()
            .spec()
            .clients
            .iter()
            .find(|client| client.client_id == id)
            .cloned()
            .expect("the default fixture has the client")
    }

    #[test]
    fn router_fixture_answers_do_not_depend_on_earlier_inputs() {
        // The default fixture's limited client is refused after 5 requests a window ...
        let default = limited_client_statuses(Fixture::default_fixture(), 7);
        assert_eq!(default[..5], [200; 5], "{default:?}");
        assert_eq!(default[5..], [429; 2], "{default:?}");
        // ... the router target's fixture answers the same request the same way every time.
        assert_eq!(limited_client_statuses(router_fixture(), 7), [200; 7]);
    }
}
