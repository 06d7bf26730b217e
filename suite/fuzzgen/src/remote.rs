//! Remote fuzzing: generated requests against any base URL, anomalies saved as cases.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use arbitrary::{Arbitrary, Unstructured};
use rand::{RngCore, SeedableRng};

use crate::case_file::{case_for, request_of_case, write_case, Provenance};
use crate::oracle::{Anomaly, AnomalyKind, Observed, Oracle};
use crate::request::{FuzzRequest, HttpRequest, TokenTable};
use crate::vocabulary::Vocabulary;

/// Bytes of randomness behind one request: enough that a request with a dozen parameters of
/// free text still has bytes left for its body (`arbitrary` reads zeros past the end).
const ENTROPY_PER_REQUEST: usize = 4096;

/// Settings of one remote fuzzing run. [`RemoteFuzzConfig::new`] gives safe defaults.
#[derive(Debug, Clone)]
pub struct RemoteFuzzConfig {
    /// Base URL of the target; endpoint paths are appended to it.
    pub target: url::Url,
    /// Clients, users and secrets of the target (from the profile).
    pub vocabulary: Vocabulary,
    /// At most this many requests.
    pub budget: u64,
    /// At most this long, whichever comes first.
    pub duration: Duration,
    /// Requests per second, at most.
    pub rate_per_second: f64,
    /// A request not answered within this is a `timeout` anomaly.
    pub request_timeout: Duration,
    /// Response bytes read at most; a longer body is cut (and not judged as JSON).
    pub body_cap: usize,
    /// Where case files go, one per distinct anomaly.
    pub out_dir: PathBuf,
    /// Seed of the request stream: the same seed replays the same run.
    pub seed: u64,
    /// Case files written at most; later anomalies are only counted.
    pub max_cases: usize,
    /// Send to a TLS target whose certificate does not verify. Off unless the profile's
    /// `tls.accept_invalid_certs` says so: the requests carry client secrets, and a secret
    /// sent over an unverified connection is a secret given to whoever answers.
    pub accept_invalid_certs: bool,
}

impl RemoteFuzzConfig {
    pub fn new(target: url::Url, vocabulary: Vocabulary, out_dir: PathBuf) -> Self {
        RemoteFuzzConfig {
            target,
            vocabulary,
            budget: 10_000,
            duration: Duration::from_secs(60),
            rate_per_second: 50.0,
            request_timeout: Duration::from_secs(5),
            body_cap: 256 * 1024,
            out_dir,
            seed: 0,
            max_cases: 100,
            accept_invalid_certs: false,
        }
    }
}

/// What a run did. Counts by anomaly kind name (`server_error`, ...).
#[derive(Debug, Clone, Default)]
pub struct RemoteFuzzSummary {
    pub sent: u64,
    pub anomalies: u64,
    pub by_kind: BTreeMap<&'static str, u64>,
    pub case_files: Vec<PathBuf>,
    /// Requests that could not be sent at all (connection refused, bad URL).
    pub transport_errors: u64,
    pub elapsed: Duration,
    /// Why the run stopped early because the target stopped answering, if it did.
    pub stalled: Option<String>,
}

/// Requests in a row without any answer (timeouts, dropped connections, connections
/// refused) after which the target is taken for stalled and the run stops: each costs a
/// request timeout, and the anomaly is already recorded.
const STALL_LIMIT: u32 = 3;

/// Sends one request and reads at most `body_cap` bytes of the answer.
pub async fn exchange(
    client: &reqwest::Client,
    base: &url::Url,
    request: &HttpRequest,
    timeout: Duration,
    body_cap: usize,
) -> Result<std::result::Result<Observed, Anomaly>> {
    let url = target_url(base, request);
    let method = reqwest::Method::from_bytes(request.method.as_bytes())
        .context("generated method is not a token")?;
    let mut builder = client.request(method, url);
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if !request.body.is_empty() {
        builder = builder.body(request.body.clone());
    }
    let started = Instant::now();
    let answer = async {
        let mut response = builder.send().await?;
        let status = response.status().as_u16();
        let headers = Observed::header_pairs(response.headers());
        let mut body = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = response.chunk().await? {
            let room = body_cap.saturating_sub(body.len());
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok::<_, reqwest::Error>(Observed {
            status,
            headers,
            body,
            elapsed: started.elapsed(),
            truncated,
        })
    };
    match tokio::time::timeout(timeout, answer).await {
        Err(_) => Ok(Err(Anomaly {
            kind: AnomalyKind::Timeout,
            detail: format!("no answer within {} ms", timeout.as_millis()),
        })),
        Ok(Ok(observed)) => Ok(Ok(observed)),
        Ok(Err(error)) if error.is_connect() || error.is_builder() => {
            Err(error).context("request could not be sent")
        }
        Ok(Err(error)) => Ok(Err(Anomaly {
            kind: AnomalyKind::Dropped,
            detail: format!("no response: {}", error.without_url()),
        })),
    }
}

fn target_url(base: &url::Url, request: &HttpRequest) -> url::Url {
    let mut url = base.clone();
    let base_path = base.path().trim_end_matches('/');
    url.set_path(&format!("{base_path}{}", request.path));
    url.set_query(request.query.as_deref());
    url
}

/// The request as it goes on the wire: URL parsing resolves dot segments and escapes what
/// the path may not hold, and the saved case must say what was really sent.
fn as_sent(base: &url::Url, mut request: HttpRequest) -> HttpRequest {
    let url = target_url(base, &request);
    let base_path = base.path().trim_end_matches('/');
    let path = url.path();
    request.path = path.strip_prefix(base_path).unwrap_or(path).to_string();
    if !request.path.starts_with('/') {
        request.path.insert(0, '/');
    }
    request.query = url.query().map(str::to_string);
    request
}

fn client(timeout: Duration, accept_invalid_certs: bool) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // A fresh connection per request: a server may close a kept-alive connection after
        // an error, and a request racing that close would be misread as a dropped one.
        .pool_max_idle_per_host(0)
        .timeout(timeout)
        .danger_accept_invalid_certs(accept_invalid_certs)
        .build()
        .context("building the HTTP client")
}

/// The certificate failure behind a send error, if that is what it is. A certificate that
/// does not verify will not verify on the next request either, so the run stops at once
/// instead of counting thousands of identical transport errors.
fn certificate_failure(error: &anyhow::Error) -> Option<String> {
    let chain: Vec<String> = error.chain().map(|cause| cause.to_string()).collect();
    chain
        .iter()
        .any(|text| text.contains("certificate") || text.contains("UnknownIssuer"))
        .then(|| chain.join(": "))
}

/// Fuzzes `config.target` until the budget or the duration runs out, writing one redacted,
/// replayable case file per distinct anomaly (kind, method, path) into `config.out_dir`.
pub async fn fuzz_remote(config: RemoteFuzzConfig) -> Result<RemoteFuzzSummary> {
    let started = Instant::now();
    let http = client(config.request_timeout, config.accept_invalid_certs)?;
    let table = TokenTable::new(&config.vocabulary);
    let origin = config.target.origin().ascii_serialization();
    let oracle = Oracle::new(&config.vocabulary, Some(&origin), config.request_timeout);
    let mut rng = rand::rngs::StdRng::seed_from_u64(config.seed);
    let mut entropy = vec![0u8; ENTROPY_PER_REQUEST];
    let period = Duration::from_secs_f64(1.0 / config.rate_per_second.max(0.001));
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut summary = RemoteFuzzSummary::default();
    let mut seen = HashSet::new();
    let target = config.target.as_str().trim_end_matches('/').to_string();
    let mut unanswered = 0u32;
    while summary.sent < config.budget && started.elapsed() < config.duration {
        if unanswered >= STALL_LIMIT {
            summary.stalled = Some(format!(
                "the target stopped answering: {unanswered} requests in a row got no response within {} ms",
                config.request_timeout.as_millis()
            ));
            break;
        }
        ticker.tick().await;
        rng.fill_bytes(&mut entropy);
        let Ok(generated) = FuzzRequest::arbitrary(&mut Unstructured::new(&entropy)) else {
            continue;
        };
        let request = as_sent(&config.target, generated.render(&table));
        summary.sent += 1;
        let outcome = match exchange(
            &http,
            &config.target,
            &request,
            config.request_timeout,
            config.body_cap,
        )
        .await
        {
            Ok(outcome) => outcome,
            Err(error) => {
                if let Some(why) = certificate_failure(&error) {
                    anyhow::bail!(
                        "the TLS certificate of {target} does not verify, so no request was sent \
                         ({why}); for a test target with a self-signed certificate, set \
                         \"tls\": {{\"accept_invalid_certs\": true}} in its profile"
                    );
                }
                summary.transport_errors += 1;
                unanswered += 1;
                continue;
            }
        };
        if outcome.is_ok() {
            unanswered = 0;
        } else {
            unanswered += 1;
        }
        let (anomalies, location) = match &outcome {
            Ok(observed) => (
                oracle.check(&request, observed),
                observed.header("location").map(str::to_string),
            ),
            Err(anomaly) => (vec![anomaly.clone()], None),
        };
        for anomaly in anomalies {
            summary.anomalies += 1;
            *summary.by_kind.entry(anomaly.kind.name()).or_default() += 1;
            let key = (anomaly.kind, request.method.clone(), request.path.clone());
            if summary.case_files.len() >= config.max_cases || !seen.insert(key) {
                continue;
            }
            let provenance = Provenance {
                target: &target,
                seed: config.seed,
                sequence: summary.sent,
            };
            let case = case_for(
                &config.vocabulary,
                &request,
                &anomaly,
                location.as_deref(),
                &provenance,
            );
            summary.case_files.push(write_case(&config.out_dir, &case)?);
        }
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Sends the request of a case file written by [`fuzz_remote`] and judges the answer again,
/// to confirm a finding (or its fix) without the full harness.
pub async fn replay_case(
    case_path: &std::path::Path,
    target: &url::Url,
    vocabulary: &Vocabulary,
    timeout: Duration,
    accept_invalid_certs: bool,
) -> Result<(Option<Observed>, Vec<Anomaly>)> {
    let text = std::fs::read_to_string(case_path)
        .with_context(|| format!("reading {}", case_path.display()))?;
    let case: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not JSON", case_path.display()))?;
    let request = request_of_case(vocabulary, &case)?;
    let http = client(timeout, accept_invalid_certs)?;
    let origin = target.origin().ascii_serialization();
    let oracle = Oracle::new(vocabulary, Some(&origin), timeout);
    Ok(
        match exchange(&http, target, &request, timeout, 1024 * 1024).await? {
            Ok(observed) => {
                let anomalies = oracle.check(&request, &observed);
                (Some(observed), anomalies)
            }
            Err(anomaly) => (None, vec![anomaly]),
        },
    )
}
