//! Sending requests: one shared keep-alive client for the run, a cookie jar per case, a
//! timeout on every request, a cap on every body (enforced while streaming), bounded
//! redirects, the run's request budget and rate limit, and bounded retries on 429.

use crate::profile::{LoginMode, Profile};
use crate::verdict::Observed;
use reqwest::cookie::CookieStore;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A request ready to send: templates rendered, body encoded.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub method: String,
    pub url: url::Url,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl Prepared {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request produced no usable response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    Timeout(Duration),
    Connect(String),
    BodyTooLarge(u64),
    TooManyRedirects(u32),
    /// A redirect pointed at a host the profile does not allow: not followed.
    OffHost(String),
    /// The target stopped answering earlier in the run: not sent.
    Stalled(String),
    BudgetSpent,
    /// The request cannot be put on the wire at all (a method that is not an HTTP token).
    Unsendable(String),
    Other(String),
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Timeout(d) => write!(
                f,
                "no complete response within {} ms (request timeout)",
                d.as_millis()
            ),
            Transport::Connect(e) => write!(f, "cannot connect: {e}"),
            Transport::BodyTooLarge(n) => write!(f, "response body exceeds the cap of {n} bytes"),
            Transport::TooManyRedirects(n) => write!(f, "more than {n} redirects (redirect limit)"),
            Transport::OffHost(h) => write!(
                f,
                "redirect to {h}, which is not in the profile's allowed_hosts: not followed"
            ),
            Transport::Stalled(why) => write!(f, "{why}; not sent"),
            Transport::BudgetSpent => write!(f, "the run's request budget is spent"),
            Transport::Unsendable(e) => write!(f, "cannot send: {e}"),
            Transport::Other(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Transport {}

/// Why the engine a run sends through could not be made from the profile.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot use the profile's CA certificate (tls.ca_file)")]
    CaCertificate { source: reqwest::Error },
    #[error("cannot build the HTTP client from the profile")]
    Client { source: reqwest::Error },
}

/// One attempt as sent and received, before redaction.
#[derive(Debug, Clone)]
pub struct RawExchange {
    pub step: String,
    pub request: Prepared,
    pub response: Option<Observed>,
    pub error: Option<Transport>,
    pub elapsed: Duration,
}

/// What a case has sent so far: every exchange, and the number of requests (a 429
/// retry is one exchange but several requests).
#[derive(Debug, Default)]
pub struct Trace {
    pub exchanges: Vec<RawExchange>,
    pub sent: u32,
}

/// The run-wide state every case shares.
pub struct Engine {
    pub profile: Arc<Profile>,
    client: reqwest::Client,
    budget: Option<AtomicU64>,
    next_slot: Mutex<Instant>,
    pub requests: AtomicU64,
    /// Tokens the run was issued, to revoke at the end: (hint, token).
    pub minted: Mutex<Vec<(String, String)>>,
    interactive: tokio::sync::Mutex<()>,
    /// Requests in a row, across the run, that got no response at all.
    unanswered: std::sync::atomic::AtomicU32,
    /// When the engine was made, the origin of `last_answer_ms`.
    started: Instant,
    /// When the target last answered anything, in ms since `started` (0 until it does).
    last_answer_ms: AtomicU64,
    /// The last of those failures, for the message that names the stall.
    last_unanswered: Mutex<Option<Transport>>,
}

/// Requests in a row without any response (timeouts, dropped connections) after which the
/// run takes the target for stalled, provided nothing at all was answered for a whole
/// request timeout: later requests are not sent, so a target that accepts connections and
/// never answers (or drips its answer) costs a request timeout or two, not one per case.
/// One endpoint that hangs while the others answer is no stall: its requests time out
/// and fail their cases, and the run goes on. Any response resets the count.
const STALL_LIMIT: u32 = 8;

/// Attempts on one request when the target answers 429.
const MAX_429_RETRIES: u32 = 3;
/// Longest single wait a Retry-After may impose.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

impl Engine {
    pub fn new(profile: Arc<Profile>) -> Result<Engine, EngineError> {
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(256)
            .tcp_nodelay(true)
            .connect_timeout(profile.request_timeout)
            .user_agent(concat!("qoauth/", env!("CARGO_PKG_VERSION")));
        if profile.accept_invalid_certs {
            b = b.danger_accept_invalid_certs(true);
        }
        if let Some(pem) = &profile.ca_pem {
            let ca = reqwest::Certificate::from_pem(pem)
                .map_err(|source| EngineError::CaCertificate { source })?;
            b = b.add_root_certificate(ca);
        }
        Ok(Engine {
            budget: profile.request_budget.map(AtomicU64::new),
            client: b.build().map_err(|source| EngineError::Client { source })?,
            profile,
            next_slot: Mutex::new(Instant::now()),
            requests: AtomicU64::new(0),
            minted: Mutex::new(Vec::new()),
            interactive: tokio::sync::Mutex::new(()),
            unanswered: std::sync::atomic::AtomicU32::new(0),
            last_unanswered: Mutex::new(None),
            started: Instant::now(),
            last_answer_ms: AtomicU64::new(0),
        })
    }

    /// Whether the budget has requests left (cases that have not started are skipped
    /// once it is spent).
    pub fn budget_left(&self) -> bool {
        self.budget
            .as_ref()
            .is_none_or(|b| b.load(Ordering::Relaxed) > 0)
    }

    fn take_budget(&self) -> Result<(), Transport> {
        if let Some(b) = &self.budget {
            b.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .map_err(|_| Transport::BudgetSpent)?;
        }
        Ok(())
    }

    async fn pace(&self) {
        let Some(rate) = self.profile.rate_limit else {
            return;
        };
        let slot = {
            let mut next = self.next_slot.lock().expect("rate limiter lock");
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + Duration::from_secs_f64(1.0 / rate);
            slot
        };
        tokio::time::sleep_until(slot.into()).await;
    }

    /// Holds every request of the run back until `until` (a 429's Retry-After).
    fn pause_until(&self, until: Instant) {
        let mut next = self.next_slot.lock().expect("rate limiter lock");
        if *next < until {
            *next = until;
        }
    }

    /// Sends one request. `retry_429` is false when the step expects a 429 itself.
    pub async fn send(
        &self,
        req: &Prepared,
        jar: &reqwest::cookie::Jar,
        retry_429: bool,
    ) -> (u32, Result<Observed, Transport>) {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let r = self.send_once(req, jar).await;
            if let Ok(obs) = &r {
                if obs.status == 429
                    && retry_429
                    && self.profile.retry_rate_limited
                    && attempts <= MAX_429_RETRIES
                {
                    let wait = obs
                        .header("retry-after")
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs)
                        .unwrap_or(Duration::from_secs(1))
                        .min(MAX_RETRY_AFTER);
                    self.pause_until(Instant::now() + wait);
                    if self.profile.rate_limit.is_none() {
                        tokio::time::sleep(wait).await;
                    }
                    continue;
                }
            }
            return (attempts, r);
        }
    }

    /// Why the run takes the target for stalled, once it does.
    pub fn stalled(&self) -> Option<String> {
        // Called before every request: two atomic loads decide it.
        let n = self.unanswered.load(Ordering::Relaxed);
        if !self.profile.stall_detection || n < STALL_LIMIT {
            return None;
        }
        let since_start = self.started.elapsed();
        let silent = since_start.saturating_sub(Duration::from_millis(
            self.last_answer_ms.load(Ordering::Relaxed),
        ));
        (silent > self.profile.request_timeout).then(|| {
            let last = self
                .last_unanswered
                .lock()
                .ok()
                .and_then(|l| l.as_ref().map(ToString::to_string))
                .unwrap_or_default();
            format!(
                "the target stopped answering: {n} requests in a row and {} s without any response (last: {last})",
                silent.as_secs()
            )
        })
    }

    async fn send_once(
        &self,
        req: &Prepared,
        jar: &reqwest::cookie::Jar,
    ) -> Result<Observed, Transport> {
        if let Some(why) = self.stalled() {
            return Err(Transport::Stalled(why));
        }
        let r = self.send_unwatched(req, jar).await;
        match &r {
            Ok(_) => {
                self.unanswered.store(0, Ordering::Relaxed);
                let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
                self.last_answer_ms.fetch_max(now, Ordering::Relaxed);
            }
            Err(e @ (Transport::Timeout(_) | Transport::Connect(_) | Transport::Other(_))) => {
                if let Ok(mut l) = self.last_unanswered.lock() {
                    *l = Some(e.clone());
                }
                self.unanswered.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {}
        }
        r
    }

    async fn send_unwatched(
        &self,
        req: &Prepared,
        jar: &reqwest::cookie::Jar,
    ) -> Result<Observed, Transport> {
        self.take_budget()?;
        self.pace().await;
        self.requests.fetch_add(1, Ordering::Relaxed);
        let timeout = self.profile.request_timeout;
        let method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|e| Transport::Unsendable(format!("bad method: {e}")))?;
        let mut rb = self
            .client
            .request(method, req.url.clone())
            .timeout(timeout);
        let mut has_cookie = false;
        for (k, v) in &req.headers {
            has_cookie |= k.eq_ignore_ascii_case("cookie");
            rb = rb.header(k.as_str(), v.as_str());
        }
        if !has_cookie {
            if let Some(c) = jar.cookies(&req.url) {
                rb = rb.header(reqwest::header::COOKIE, c);
            }
        }
        if let Some(b) = &req.body {
            rb = rb.body(b.clone());
        }
        let max = self.profile.max_body_bytes;
        let url = req.url.clone();
        let fut = async move {
            let mut resp = rb.send().await.map_err(|e| classify(e, timeout))?;
            let status = resp.status().as_u16();
            let headers: Vec<(String, String)> = resp
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let set_cookies: Vec<reqwest::header::HeaderValue> = resp
                .headers()
                .get_all(reqwest::header::SET_COOKIE)
                .iter()
                .cloned()
                .collect();
            if !set_cookies.is_empty() {
                jar.set_cookies(&mut set_cookies.iter(), &url);
            }
            if resp.content_length().is_some_and(|n| n > max) {
                return Err(Transport::BodyTooLarge(max));
            }
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(|e| classify(e, timeout))? {
                if body.len() as u64 + chunk.len() as u64 > max {
                    return Err(Transport::BodyTooLarge(max));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Observed {
                status,
                headers,
                body,
                url,
            })
        };
        match tokio::time::timeout(timeout + Duration::from_millis(50), fut).await {
            Ok(r) => r,
            Err(_) => Err(Transport::Timeout(timeout)),
        }
    }

    /// Remembers tokens a response issued, so the run can revoke them at the end.
    pub fn note_minted(&self, obs: &Observed) {
        if obs.status / 100 != 2 {
            return;
        }
        if let Ok(v) = obs.json() {
            let mut m = self.minted.lock().expect("minted lock");
            for hint in ["refresh_token", "access_token"] {
                if let Some(t) = v.get(hint).and_then(|t| t.as_str()) {
                    m.push((hint.to_string(), t.to_string()));
                }
            }
        }
    }

    /// Follows redirects from `first` until a response that is not a redirect, or (for
    /// logins) until the Location reaches `stop_at`. Every hop is recorded.
    pub async fn follow(
        &self,
        step: &str,
        first: Prepared,
        jar: &reqwest::cookie::Jar,
        stop_at: Option<&str>,
        extra_headers: &[(String, String)],
        trace: &mut Trace,
    ) -> Result<Observed, Transport> {
        let limit = self.profile.redirect_limit;
        let mut req = first;
        let mut hops = 0u32;
        loop {
            let started = Instant::now();
            let (n, r) = self.send(&req, jar, true).await;
            trace.sent += n;
            trace.exchanges.push(RawExchange {
                step: step.to_string(),
                request: req.clone(),
                response: r.as_ref().ok().cloned(),
                error: r.as_ref().err().cloned(),
                elapsed: started.elapsed(),
            });
            let obs = r?;
            let is_redirect = matches!(obs.status, 301 | 302 | 303 | 307 | 308);
            let Some(next) = obs.location().filter(|_| is_redirect) else {
                return Ok(obs);
            };
            if let Some(stop) = stop_at {
                if next.as_str().starts_with(stop)
                    || obs.header("location").is_some_and(|l| l.starts_with(stop))
                {
                    return Ok(obs);
                }
                // A login never leaves the profile's hosts either: a target (or whoever
                // can inject a redirect) must not be able to point the run at another
                // host. An identity provider of its own belongs in allowed_hosts.
                if !self.same_target(&next) {
                    let host = next.host_str().unwrap_or("(no host)").to_string();
                    trace.exchanges.last_mut().expect("just pushed").error =
                        Some(Transport::OffHost(host.clone()));
                    return Err(Transport::OffHost(host));
                }
            } else if !self.same_target(&next) {
                // Never wander off the profile's hosts on a plain request: the redirect
                // itself is the answer the case judges.
                return Ok(obs);
            }
            if next.scheme() != "http" && next.scheme() != "https" {
                return Ok(obs);
            }
            hops += 1;
            if hops > limit {
                trace.exchanges.last_mut().expect("just pushed").error =
                    Some(Transport::TooManyRedirects(limit));
                return Err(Transport::TooManyRedirects(limit));
            }
            let keep_body = matches!(obs.status, 307 | 308);
            let mut headers: Vec<(String, String)> = extra_headers.to_vec();
            if keep_body {
                headers.extend(
                    req.headers
                        .iter()
                        .filter(|(k, _)| !k.eq_ignore_ascii_case("cookie"))
                        .cloned(),
                );
            }
            req = Prepared {
                method: if keep_body {
                    req.method.clone()
                } else {
                    "GET".into()
                },
                url: next,
                headers,
                body: if keep_body { req.body.clone() } else { None },
            };
        }
    }

    fn same_target(&self, u: &url::Url) -> bool {
        let Some(h) = u.host_str() else { return false };
        let h = h.trim_start_matches('[').trim_end_matches(']');
        self.profile.allowed_hosts.iter().any(|a| {
            a.trim_start_matches('[')
                .trim_end_matches(']')
                .eq_ignore_ascii_case(h)
        })
    }

    /// Obtains the final redirect of a login: the target's own login (login_hint or a
    /// replayed session), or a person at the terminal.
    pub async fn login(
        &self,
        step: &str,
        authorize: Prepared,
        redirect_uri: &str,
        jar: &reqwest::cookie::Jar,
        trace: &mut Trace,
    ) -> Result<Observed, Transport> {
        match &self.profile.login {
            LoginMode::None => Err(Transport::Other("the profile's login mode is none".into())),
            LoginMode::LoginHint => {
                self.follow(step, authorize, jar, Some(redirect_uri), &[], trace)
                    .await
            }
            LoginMode::Session { cookies, headers } => {
                for (k, v) in cookies {
                    jar.add_cookie_str(&format!("{k}={v}"), &authorize.url);
                }
                let extra: Vec<(String, String)> = headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let mut first = authorize;
                first.headers.extend(extra.iter().cloned());
                self.follow(step, first, jar, Some(redirect_uri), &extra, trace)
                    .await
            }
            LoginMode::Interactive => {
                let _one_at_a_time = self.interactive.lock().await;
                let url = authorize.url.clone();
                let line = tokio::task::spawn_blocking(move || {
                    use std::io::BufRead;
                    eprintln!("\nSign in at this URL, then paste the full URL you were redirected to:\n{url}\n");
                    let mut s = String::new();
                    std::io::stdin().lock().read_line(&mut s).map(|_| s)
                })
                .await
                .map_err(|e| Transport::Other(format!("interactive login failed: {e}")))?
                .map_err(|e| Transport::Other(format!("cannot read the redirect URL: {e}")))?;
                let line = line.trim().to_string();
                let final_url = url::Url::parse(&line).map_err(|e| {
                    Transport::Other(format!(
                        "not a URL ({e}): the interactive login needs the full redirect URL"
                    ))
                })?;
                let obs = Observed {
                    status: 302,
                    headers: vec![("location".into(), final_url.to_string())],
                    body: Vec::new(),
                    url: authorize.url.clone(),
                };
                trace.exchanges.push(RawExchange {
                    step: step.to_string(),
                    request: authorize,
                    response: Some(obs.clone()),
                    error: None,
                    elapsed: Duration::ZERO,
                });
                Ok(obs)
            }
        }
    }

    /// Revokes every token the run was issued (RFC 7009); returns (revoked, failed).
    pub async fn revoke_minted(self: &Arc<Self>) -> (u64, u64) {
        let tokens: Vec<(String, String)> =
            std::mem::take(&mut *self.minted.lock().expect("minted lock"));
        let url = match url::Url::parse(&format!("{}/oauth/revoke", self.profile.base())) {
            Ok(u) => u,
            Err(_) => return (0, tokens.len() as u64),
        };
        let sem = Arc::new(tokio::sync::Semaphore::new(32));
        let mut set = tokio::task::JoinSet::new();
        for (hint, token) in tokens {
            let me = Arc::clone(self);
            let url = url.clone();
            let sem = Arc::clone(&sem);
            set.spawn(async move {
                let _permit = sem.acquire().await;
                let body = serde_json::json!({"token": token, "token_type_hint": hint}).to_string();
                let mut headers =
                    vec![("content-type".to_string(), "application/json".to_string())];
                if hint == "access_token" {
                    headers.push(("authorization".into(), format!("Bearer {token}")));
                }
                let req = Prepared {
                    method: "POST".into(),
                    url,
                    headers,
                    body: Some(body.into_bytes()),
                };
                let jar = reqwest::cookie::Jar::default();
                // A 429 here counts as a failed revocation rather than holding the run's
                // end for a rate-limit window.
                let (_, r) = me.send(&req, &jar, false).await;
                matches!(r, Ok(o) if o.status / 100 == 2)
            });
        }
        let (mut ok, mut failed) = (0, 0);
        while let Some(r) = set.join_next().await {
            if matches!(r, Ok(true)) {
                ok += 1
            } else {
                failed += 1
            }
        }
        (ok, failed)
    }
}

fn classify(e: reqwest::Error, timeout: Duration) -> Transport {
    if e.is_timeout() {
        return Transport::Timeout(timeout);
    }
    let e = e.without_url();
    if e.is_connect() {
        return Transport::Connect(crate::error_chain(&e));
    }
    Transport::Other(crate::error_chain(&e))
}
