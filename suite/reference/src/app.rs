//! The application: shared state, routes, and the cross-cutting parts every endpoint uses
//! (body limits, the issuer, origins and CORS, rate limits, purging). Client
//! authentication is in [`crate::client_auth`].

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;

use crate::errors::ApiError;
use crate::faults::Faults;
use crate::fixture::{Fixture, Registry};
use crate::ratelimit::{RateLimiter, Tier};
use crate::store::{Store, StoreStats};
use crate::variants::{Variant, Variants};

pub(crate) type Shared = Arc<AppState>;

pub(crate) struct AppState {
    pub fixture: Fixture,
    pub reg: Arc<Registry>,
    pub store: Store,
    pub limiter: RateLimiter,
    /// Whether requests arrive over TLS, for an issuer derived from the Host header.
    pub tls: bool,
    next_purge_ms: AtomicU64,
    #[cfg_attr(not(feature = "faults"), allow(dead_code))]
    pub faults: Faults,
    /// Permitted behaviours other than the reference's own (`serve --variant`).
    pub variants: Variants,
}

/// Handle on a running app's state, for in-process observers (tests, benchmarks).
#[derive(Clone)]
pub struct AppHandle(pub(crate) Shared);

impl AppHandle {
    /// Sizes of the token, code and session stores.
    pub fn stats(&self) -> StoreStats {
        self.0.store.stats()
    }
    /// Sweeps expired entries now instead of at the next purge interval.
    pub fn purge_now(&self) {
        let now = now_ms();
        self.0.store.purge(now);
        self.0.limiter.purge(now / 1000);
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The whole app, in process, without a listener. The issuer comes from the fixture or,
/// when it is null, from each request's Host header over plain http.
pub fn router(fixture: Fixture) -> Router {
    build(fixture, false, Faults::default(), Variants::default()).0
}

pub(crate) fn build(
    fixture: Fixture,
    tls: bool,
    faults: Faults,
    variants: Variants,
) -> (Router, AppHandle) {
    let reg = fixture.registry.clone();
    let limits: Vec<(u64, u64)> = reg
        .clients
        .iter()
        .map(|c| (c.tier1_limit, c.tier2_limit))
        .collect();
    let limiter = RateLimiter::new(
        reg.window_seconds,
        fixture.spec().rate_limits.tier1,
        fixture.spec().rate_limits.tier2,
        &limits,
    );
    let state = Arc::new(AppState {
        store: Store::new(reg.clients.len(), reg.users.iter().map(|u| u.active)),
        limiter,
        tls,
        next_purge_ms: AtomicU64::new(now_ms() + reg.purge_interval * 1000),
        faults,
        variants,
        reg,
        fixture,
    });
    let router = Router::new()
        .route(
            "/oauth/token",
            only(
                post(crate::token::token).options(preflight),
                "POST, OPTIONS",
            ),
        )
        .route(
            "/oauth/revoke",
            only(
                post(crate::token::revoke).options(preflight),
                "POST, OPTIONS",
            ),
        )
        .route(
            "/oauth/authorize",
            only(get(crate::authorize::authorize), "GET, HEAD"),
        )
        .route(
            crate::authorize::LOGIN_PATH,
            only(
                get(crate::authorize::login_page).post(crate::authorize::login_submit),
                "GET, HEAD, POST",
            ),
        )
        .route(
            crate::authorize::CONSENT_PATH,
            only(
                get(crate::authorize::consent_page).post(crate::authorize::consent_submit),
                "GET, HEAD, POST",
            ),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            only(get(discovery), "GET, HEAD"),
        )
        .route("/.well-known/jwks.json", only(get(jwks), "GET, HEAD"))
        .route(
            "/api/v1/users/{user_id}",
            only(axum::routing::patch(crate::users::patch_user), "PATCH"),
        )
        .fallback(not_found);
    #[cfg(feature = "faults")]
    let router = router.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        crate::injection::inject,
    ));
    // A panicking handler answers with a 500 envelope instead of a dropped connection.
    let router = router
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .with_state(state.clone());
    (router, AppHandle(state))
}

/// The answer to a request whose handler panicked: an Errors envelope, never the panic
/// message (it may hold request data).
fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "OAUTH-500",
        "Internal server error",
        "server_error",
        "the server failed to process the request",
    )
    .into_response()
}

/// Every route answers other methods with a 405 envelope and an `Allow` header (RFC 9110
/// 15.5.6) instead of axum's empty 405.
fn only(m: MethodRouter<Shared>, allow: &'static str) -> MethodRouter<Shared> {
    m.fallback(move |State(s): State<Shared>| async move {
        if s.varies(Variant::Bare405) {
            // RFC 9110 15.5.6 asks for Allow only; the spec defines no body here.
            let mut r = StatusCode::METHOD_NOT_ALLOWED.into_response();
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
            return r;
        }
        ApiError::method_not_allowed(allow).into_response()
    })
}

/// CORS preflight of the token and revoke endpoints (Fetch standard), answered for
/// listed origins only.
async fn preflight(State(s): State<Shared>, headers: HeaderMap) -> Response {
    if headers.get(header::ORIGIN).is_none() {
        return ApiError::method_not_allowed("POST, OPTIONS").into_response();
    }
    if let Err(e) = s.origin_check(&headers, None) {
        return e.into_response();
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    s.cors(&headers, &mut r);
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    r
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

impl AppState {
    /// Whether the server runs with variant `v` (see [`crate::variants`]).
    #[inline]
    pub fn varies(&self, v: Variant) -> bool {
        self.variants.has(v)
    }

    /// Runs a purge in the background once per interval, triggered by traffic, so memory
    /// stays bounded without a timer task (and `router()` needs none).
    pub fn maybe_purge(self: &Arc<Self>, now: u64) {
        let due = self.next_purge_ms.load(Ordering::Relaxed);
        if now < due {
            return;
        }
        let next = now + self.reg.purge_interval * 1000;
        if self
            .next_purge_ms
            .compare_exchange(due, next, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            let me = self.clone();
            tokio::task::spawn_blocking(move || {
                me.store.purge(now);
                me.limiter.purge(now / 1000);
            });
        }
    }

    /// The tenant URL: the fixture's issuer, else scheme + Host of the request (RFC 8414
    /// 2 issuer; notes section 2 discovery).
    pub fn issuer<'a>(&'a self, headers: &HeaderMap) -> Cow<'a, str> {
        if let Some(i) = &self.reg.issuer {
            return Cow::Borrowed(i);
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| h.parse::<http::uri::Authority>().is_ok() && !h.contains('@'))
            .unwrap_or("localhost");
        let scheme = if self.tls { "https" } else { "http" };
        Cow::Owned(format!("{scheme}://{host}"))
    }

    pub fn peer(req_ext: &http::Extensions) -> Option<IpAddr> {
        req_ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
    }

    /// Whether a browser `Origin` may call the token or revoke endpoint for `client`: the
    /// client's allowed origins, the tenant's, or the tenant itself (notes section 2: else
    /// OAUTH-29 "Invalid Origin Header"). Requests without Origin are not from browsers.
    pub fn origin_check(&self, headers: &HeaderMap, client: Option<u32>) -> Result<(), ApiError> {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Ok(());
        };
        let origin = origin.to_str().unwrap_or("");
        let listed = match client {
            Some(c) => {
                self.reg.clients[c as usize]
                    .allowed_origins
                    .iter()
                    .any(|o| **o == *origin)
                    || self.reg.tenant_origins.iter().any(|o| **o == *origin)
            }
            None => self.reg.any_origins.iter().any(|o| **o == *origin),
        };
        if listed || *self.issuer(headers) == *origin {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "OAUTH-29",
            "Invalid Origin Header",
            "invalid_request",
            "the Origin is not allowed for this client",
        ))
    }

    /// Adds CORS headers for an Origin some client or the tenant lists, so browser clients
    /// can read the answer (errors included).
    pub fn cors(&self, headers: &HeaderMap, resp: &mut Response) {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return;
        };
        if self
            .reg
            .any_origins
            .iter()
            .any(|o| o.as_bytes() == origin.as_bytes())
        {
            let h = resp.headers_mut();
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            h.insert(header::VARY, HeaderValue::from_static("Origin"));
        }
    }

    /// Counts a request against the caller's tier: the named client if known, else the
    /// peer address.
    pub fn rate_check(
        &self,
        client: Option<u32>,
        peer: Option<IpAddr>,
        tier: Tier,
        now: u64,
    ) -> Result<(), ApiError> {
        // Fault `tier-below-allowance`: a quarter of the x-qlik-tier limits, so that no
        // boundary of a fixed window can hide it.
        let cap = if fault!(self, TierBelowAllowance) {
            [250, 25][tier as usize]
        } else {
            u64::MAX
        };
        let r = match client {
            Some(c) => self.limiter.check_client(c, tier, now / 1000, cap),
            None => self.limiter.check_peer(peer, tier, now / 1000, cap),
        };
        r.map_err(|retry_after| {
            let mut e = ApiError::rate_limited(retry_after);
            if self.varies(Variant::NoRetryAfter) {
                e.retry_after = None;
            }
            e
        })
    }
}

/// HTTP/2 carries the host in `:authority` (the URI), not in a Host header; copy it over
/// so the issuer derivation sees one place.
pub(crate) fn normalize_host(parts: &mut http::request::Parts) {
    if !parts.headers.contains_key(header::HOST) {
        if let Some(v) = parts
            .uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        {
            parts.headers.insert(header::HOST, v);
        }
    }
}

/// Reads a request body under the fixture's size limit: 413 when over it, announced or not.
pub(crate) async fn read_body(
    limit: usize,
    headers: &HeaderMap,
    body: Body,
) -> Result<bytes::Bytes, ApiError> {
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > limit as u64 {
            return Err(ApiError::payload_too_large(limit));
        }
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut src: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = src {
            if s.is::<http_body_util::LengthLimitError>() {
                return ApiError::payload_too_large(limit);
            }
            src = s.source();
        }
        ApiError::invalid_request("the request body could not be read")
    })
}

/// RFC 8414 metadata, as the real tenant serves it (notes section 2 discovery), with the
/// capabilities this server implements filled in.
async fn discovery(State(s): State<Shared>, req: axum::extract::Request) -> Response {
    if s.varies(Variant::NoDiscovery) {
        return ApiError::not_found().into_response();
    }
    let (mut parts, _) = req.into_parts();
    normalize_host(&mut parts);
    let iss = s.issuer(&parts.headers);
    let body = serde_json::json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/oauth/authorize"),
        "token_endpoint": format!("{iss}/oauth/token"),
        "revocation_endpoint": format!("{iss}/oauth/revoke"),
        "jwks_uri": format!("{iss}/.well-known/jwks.json"),
        "scopes_supported": s.reg.scopes.iter().map(|s| &**s).collect::<Vec<_>>(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": [
            "authorization_code",
            "client_credentials",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:token-exchange",
            "urn:qlik:oauth:user-impersonation"
        ],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "RS512", "ES384"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "private_key_jwt", "none"],
        "prompt_values_supported": ["none", "login", "consent"],
    });
    json_response(StatusCode::OK, &body)
}

/// Access tokens are opaque here, so no signing key is published; the document exists
/// because the metadata points at it.
async fn jwks(State(s): State<Shared>) -> Response {
    if s.varies(Variant::NoDiscovery) {
        return ApiError::not_found().into_response();
    }
    json_response(StatusCode::OK, &serde_json::json!({ "keys": [] }))
}

pub(crate) fn json_response(status: StatusCode, v: &serde_json::Value) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_default();
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}
