//! Remote fuzzing: generated requests against any target, anomalies saved as cases.
//!
//! Requests go out through the harness's [`Engine`], the one sender of the suite: the
//! profile's TLS settings (certificates verified unless it says `accept_invalid_certs`, its
//! own CA), its body cap, timeouts, pacing and budget hold here exactly as they do for the
//! cases and the properties. What is fuzzing's own is the request stream, the oracle, and
//! a stricter stall rule: a fuzz run has no later case a stall could spare.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};
use qoauth_harness::cases::{parse_case_file, write_case_file, LoadErrors, WriteCaseError};
use qoauth_harness::exec::{Engine, Prepared, Transport};
use qoauth_harness::Profile;
use rand::{RngCore, SeedableRng};

pub mod case_file;

use case_file::{case_for, request_of_case, Provenance};
use qoauth_fuzzgen::oracle::{Anomaly, AnomalyKind, Observed, Oracle};
use qoauth_fuzzgen::request::{FuzzRequest, HttpRequest, TokenTable};
use qoauth_fuzzgen::vocabulary::Vocabulary;

/// Why a run or a replay stopped before it could judge the target. Anomalies are not
/// errors: they are what [`RemoteFuzzSummary`] counts and the case files record.
#[derive(Debug, thiserror::Error)]
pub enum RemoteFuzzError {
    #[error("cannot build the HTTP client from the profile")]
    Client { source: qoauth_harness::EngineError },
    /// The run stops at the first such refusal: every later request would meet the same
    /// certificate.
    #[error(
        "the TLS certificate of {target} does not verify, so no request was sent ({why}); \
         for a test target with a self-signed certificate, set \
         \"tls\": {{\"accept_invalid_certs\": true}} in its profile"
    )]
    Certificate { target: String, why: String },
    #[error("cannot save the case file {}", path.display())]
    SaveCase {
        path: PathBuf,
        source: WriteCaseError,
    },
    #[error("cannot read {}", path.display())]
    ReadCase {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} does not load as a case file", path.display())]
    InvalidCase { path: PathBuf, source: LoadErrors },
    #[error("{}: case file without cases", path.display())]
    NoCase { path: PathBuf },
    /// Only the cases `fuzz_remote` writes are replayed, and each of those has one.
    #[error("case {case} has no request step")]
    NoRequest { case: String },
    #[error("request could not be sent: {why}")]
    NotSent { why: String },
    #[error("the profile's request budget is spent")]
    BudgetSpent,
}

/// Bytes of randomness behind one request: enough that a request with a dozen parameters of
/// free text still has bytes left for its body (`arbitrary` reads zeros past the end).
const ENTROPY_PER_REQUEST: usize = 4096;

/// Settings of one remote fuzzing run. [`RemoteFuzzConfig::new`] gives safe defaults.
#[derive(Debug, Clone)]
pub struct RemoteFuzzConfig {
    /// The target's profile: its `base_url` is fuzzed, and its TLS settings hold for every
    /// request. The fields below override its timeout, body cap, budget and rate.
    pub profile: Profile,
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
    /// Response bytes read at most; a longer body is an `unreadable` anomaly.
    pub body_cap: u64,
    /// Where case files go, one per distinct anomaly.
    pub out_dir: PathBuf,
    /// Seed of the request stream: the same seed replays the same run.
    pub seed: u64,
    /// Case files written at most; later anomalies are only counted.
    pub max_cases: usize,
}

impl RemoteFuzzConfig {
    /// Fuzzing of `profile`'s target with its timeout and body cap, 10,000 requests at 50 a
    /// second for at most a minute; TLS as the profile says (certificates verified unless
    /// it sets `tls.accept_invalid_certs`: the requests carry client secrets, and a secret
    /// sent over an unverified connection is a secret given to whoever answers).
    pub fn new(profile: Profile, vocabulary: Vocabulary, out_dir: PathBuf) -> Self {
        RemoteFuzzConfig {
            vocabulary,
            budget: 10_000,
            duration: Duration::from_secs(60),
            rate_per_second: 50.0,
            request_timeout: profile.request_timeout,
            body_cap: profile.max_body_bytes,
            out_dir,
            seed: 0,
            max_cases: 100,
            profile,
        }
    }

    /// The profile the sender runs with: the run's own limits in place of the profile's,
    /// 429s taken as answers (a fuzzer judges them, it does not wait them out), and the
    /// stall rule left to the run (see [`STALL_LIMIT`]).
    fn sender_profile(&self) -> Profile {
        let mut p = self.profile.clone();
        p.request_timeout = self.request_timeout;
        p.max_body_bytes = self.body_cap;
        p.request_budget = Some(self.budget);
        p.rate_limit = Some(self.rate_per_second.max(0.001));
        p.retry_rate_limited = false;
        p.stall_detection = false;
        p
    }

    fn target(&self) -> &url::Url {
        &self.profile.base_url
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

/// Why a request got no answer to judge.
enum NoAnswer {
    /// An answer the oracle counts (a timeout, a dropped connection, an endless body).
    Anomaly(Anomaly),
    /// The request never reached the target (connection refused, a certificate that does
    /// not verify): the message says which.
    NotSent(String),
    /// The run's request budget is spent.
    BudgetSpent,
}

/// Sends one request through the engine and reads at most the body cap of the answer.
async fn exchange(
    engine: &Engine,
    base: &url::Url,
    request: &HttpRequest,
) -> Result<Observed, NoAnswer> {
    let prepared = Prepared {
        method: request.method.clone(),
        url: target_url(base, request),
        headers: request.headers.clone(),
        body: (!request.body.is_empty()).then(|| request.body.clone().into_bytes()),
    };
    // A jar of its own per request: generated requests carry the cookies they mean to.
    let jar = reqwest::cookie::Jar::default();
    let started = Instant::now();
    let (_, answer) = engine.send(&prepared, &jar, false).await;
    let elapsed = started.elapsed();
    match answer {
        Ok(o) => Ok(Observed {
            status: o.status,
            headers: o.headers,
            body: o.body,
            elapsed,
            truncated: false,
        }),
        Err(Transport::Timeout(t)) => Err(NoAnswer::Anomaly(Anomaly {
            kind: AnomalyKind::Timeout,
            detail: format!("no answer within {} ms", t.as_millis()),
        })),
        Err(Transport::BodyTooLarge(cap)) => Err(NoAnswer::Anomaly(Anomaly {
            kind: AnomalyKind::Unreadable,
            detail: format!("a body past {cap} bytes, which no client reads to the end"),
        })),
        Err(Transport::BudgetSpent) => Err(NoAnswer::BudgetSpent),
        Err(e @ (Transport::Connect(_) | Transport::Unsendable(_))) => {
            Err(NoAnswer::NotSent(e.to_string()))
        }
        Err(e) => Err(NoAnswer::Anomaly(Anomaly {
            kind: AnomalyKind::Dropped,
            detail: format!("no response: {e}"),
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

/// Whether a transport failure is a certificate that does not verify. Such a certificate
/// will not verify on the next request either, so the run stops at once instead of counting
/// thousands of identical transport errors.
fn certificate_failure(message: &str) -> bool {
    message.contains("certificate") || message.contains("UnknownIssuer")
}

/// Fuzzes `config.target` until the budget or the duration runs out, writing one redacted,
/// replayable case file per distinct anomaly (kind, method, path) into `config.out_dir`.
pub async fn fuzz_remote(config: RemoteFuzzConfig) -> Result<RemoteFuzzSummary, RemoteFuzzError> {
    let started = Instant::now();
    let engine = Engine::new(Arc::new(config.sender_profile()))
        .map_err(|source| RemoteFuzzError::Client { source })?;
    let table = TokenTable::new(&config.vocabulary);
    let origin = config.target().origin().ascii_serialization();
    let oracle = Oracle::new(&config.vocabulary, Some(&origin), config.request_timeout);
    let mut rng = rand::rngs::StdRng::seed_from_u64(config.seed);
    let mut entropy = vec![0u8; ENTROPY_PER_REQUEST];
    let period = Duration::from_secs_f64(1.0 / config.rate_per_second.max(0.001));
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut summary = RemoteFuzzSummary::default();
    let mut seen = HashSet::new();
    let target = config.target().as_str().trim_end_matches('/').to_string();
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
        let request = as_sent(config.target(), generated.render(&table));
        let outcome = match exchange(&engine, config.target(), &request).await {
            Err(NoAnswer::BudgetSpent) => break,
            Err(NoAnswer::NotSent(why)) => {
                summary.sent += 1;
                if certificate_failure(&why) {
                    return Err(RemoteFuzzError::Certificate { target, why });
                }
                summary.transport_errors += 1;
                unanswered += 1;
                continue;
            }
            Ok(observed) => Ok(observed),
            Err(NoAnswer::Anomaly(anomaly)) => Err(anomaly),
        };
        summary.sent += 1;
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
            if summary.case_files.len() >= config.max_cases || !seen.insert(key.clone()) {
                continue;
            }
            let provenance = Provenance {
                target: &target,
                seed: config.seed,
                sequence: summary.sent,
            };
            let file = case_for(
                &config.vocabulary,
                &request,
                &anomaly,
                location.as_deref(),
                &provenance,
            );
            let name = format!("{}.json", file.cases[0].id);
            match write_case_file(&config.out_dir, &name, &file) {
                Ok(path) => summary.case_files.push(path),
                // A request whose text the case format cannot carry (a `{{...}}` naming
                // nothing) would make a file the harness refuses: the anomaly is counted,
                // and a later request of the same kind may still be saved.
                Err(WriteCaseError::Invalid(_)) => {
                    seen.remove(&key);
                }
                Err(source) => {
                    return Err(RemoteFuzzError::SaveCase {
                        path: config.out_dir.join(name),
                        source,
                    })
                }
            }
        }
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Sends the request of a case file written by [`fuzz_remote`] and judges the answer again,
/// to confirm a finding (or its fix) without the full harness.
pub async fn replay_case(
    case_path: &Path,
    profile: &Profile,
    vocabulary: &Vocabulary,
) -> Result<(Option<Observed>, Vec<Anomaly>), RemoteFuzzError> {
    let text = std::fs::read_to_string(case_path).map_err(|source| RemoteFuzzError::ReadCase {
        path: case_path.to_path_buf(),
        source,
    })?;
    let cases =
        parse_case_file(case_path, &text).map_err(|errors| RemoteFuzzError::InvalidCase {
            path: case_path.to_path_buf(),
            source: LoadErrors(errors),
        })?;
    let case = cases.first().ok_or_else(|| RemoteFuzzError::NoCase {
        path: case_path.to_path_buf(),
    })?;
    let request = request_of_case(vocabulary, case)?;
    let mut sender = profile.clone();
    sender.retry_rate_limited = false;
    let engine =
        Engine::new(Arc::new(sender)).map_err(|source| RemoteFuzzError::Client { source })?;
    let target = &profile.base_url;
    let origin = target.origin().ascii_serialization();
    let oracle = Oracle::new(vocabulary, Some(&origin), profile.request_timeout);
    Ok(match exchange(&engine, target, &request).await {
        Ok(observed) => {
            let anomalies = oracle.check(&request, &observed);
            (Some(observed), anomalies)
        }
        Err(NoAnswer::Anomaly(anomaly)) => (None, vec![anomaly]),
        Err(NoAnswer::NotSent(why)) => return Err(RemoteFuzzError::NotSent { why }),
        Err(NoAnswer::BudgetSpent) => return Err(RemoteFuzzError::BudgetSpent),
    })
}
