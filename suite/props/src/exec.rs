//! Running scenarios through the harness engine: the run's one keep-alive client, its
//! request budget and rate limit, the same template rendering and login as scenario
//! cases. The harness runs whole cases; properties need each raw response to judge it,
//! so this is a thin step runner over the harness's public pieces.

use crate::scenario::{Scenario, Step};
use crate::PropsError;
use qoauth_harness::exec::{Engine, Prepared, RawExchange, Trace, Transport};
use qoauth_harness::profile::Profile;
use qoauth_harness::template::{generate, Bindings};
use qoauth_harness::verdict::Observed;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One step as run: every request it sent and what came back.
#[derive(Debug, Clone)]
pub struct StepRun {
    pub index: usize,
    pub exchanges: Vec<RawExchange>,
}

impl StepRun {
    /// The last response, which expectations judge.
    pub fn last(&self) -> Option<&Observed> {
        self.exchanges.last().and_then(|e| e.response.as_ref())
    }

    pub fn responses(&self) -> impl Iterator<Item = &Observed> {
        self.exchanges.iter().filter_map(|e| e.response.as_ref())
    }
}

/// Why a scenario stopped before its last step.
#[derive(Debug, Clone, PartialEq)]
pub enum Stop {
    /// The run's request budget is spent: nothing more may be sent.
    Budget,
    /// A transport failure (timeout, connection) on a step.
    Transport { step: usize, error: Transport },
    /// A later step needs a value an earlier response did not give (no code, no token).
    Missing { step: usize, why: String },
}

/// A step the harness could not prepare (a template naming nothing, a login it cannot
/// plan). The reason keeps the whole chain of the harness's error.
fn missing(e: qoauth_harness::PlanError) -> Stop {
    Stop::Missing {
        step: 0,
        why: qoauth_harness::error_chain(&e),
    }
}

/// A scenario as run against one target.
#[derive(Debug, Clone)]
pub struct Executed {
    /// The values the `let` bindings and captures took (raw: never reported).
    pub vars: HashMap<String, Value>,
    pub steps: Vec<StepRun>,
    pub stop: Option<Stop>,
    pub requests: u32,
}

impl Executed {
    pub fn step(&self, index: usize) -> Option<&StepRun> {
        self.steps.iter().find(|s| s.index == index)
    }

    pub fn all_exchanges(&self) -> impl Iterator<Item = &RawExchange> {
        self.steps.iter().flat_map(|s| s.exchanges.iter())
    }

    pub fn var_str(&self, name: &str) -> Option<&str> {
        self.vars.get(name).and_then(Value::as_str)
    }
}

/// A target the properties can reach: the engine (budget, pacing, HTTP client) and the
/// profile it describes.
pub struct Target {
    pub engine: Arc<Engine>,
    pub profile: Arc<Profile>,
}

impl Target {
    pub fn new(profile: Profile) -> Result<Target, PropsError> {
        profile
            .check_target()
            .map_err(|source| PropsError::Target {
                url: profile.base().to_string(),
                source,
            })?;
        let profile = Arc::new(profile);
        let engine =
            Engine::new(Arc::clone(&profile)).map_err(|source| PropsError::Client { source })?;
        Ok(Target {
            engine: Arc::new(engine),
            profile,
        })
    }

    pub fn requests(&self) -> u64 {
        self.engine
            .requests
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs the scenario's steps in order; captures feed later steps.
    pub async fn execute(&self, sc: &Scenario) -> Executed {
        let profile: &Profile = &self.profile;
        let mut b = Bindings::new(profile);
        let mut out = Executed {
            vars: HashMap::new(),
            steps: Vec::new(),
            stop: None,
            requests: 0,
        };
        for (name, gen) in &sc.lets {
            match generate(gen, &b) {
                Ok((v, _)) => {
                    b.vars.insert(name.clone(), v);
                }
                Err(e) => {
                    out.stop = Some(Stop::Missing {
                        step: 0,
                        why: format!("let {name}: {}", qoauth_harness::error_chain(&e)),
                    });
                    out.vars = b.vars;
                    return out;
                }
            }
        }
        let jar = Arc::new(reqwest::cookie::Jar::default());
        for (i, step) in sc.steps.iter().enumerate() {
            let case_step = step.to_case();
            let mut run = StepRun {
                index: i,
                exchanges: Vec::new(),
            };
            let result = self
                .run_step(step, &case_step, &b, &jar, &mut run, &mut out.requests)
                .await;
            if let Err(stop) = result {
                out.steps.push(run);
                out.stop = Some(match stop {
                    Stop::Transport {
                        error: Transport::BudgetSpent,
                        ..
                    } => Stop::Budget,
                    Stop::Transport { error, .. } => Stop::Transport { step: i, error },
                    Stop::Missing { why, .. } => Stop::Missing { step: i, why },
                    Stop::Budget => Stop::Budget,
                });
                break;
            }
            if let Some(last) = run.last() {
                let (caps, _) = qoauth_harness::verdict::captures(step.name(), &case_step, last);
                for (k, v) in caps {
                    b.vars.insert(k, v);
                }
            }
            out.steps.push(run);
        }
        out.vars = b.vars;
        out
    }

    async fn run_step(
        &self,
        step: &Step,
        case_step: &qoauth_harness::cases::Step,
        b: &Bindings<'_>,
        jar: &Arc<reqwest::cookie::Jar>,
        run: &mut StepRun,
        sent: &mut u32,
    ) -> Result<(), Stop> {
        if let Some(login) = &case_step.login {
            let (prep, redirect_uri) =
                qoauth_harness::plan::prepare_login(login, b).map_err(missing)?;
            let mut trace = Trace {
                exchanges: std::mem::take(&mut run.exchanges),
                sent: 0,
            };
            let r = self
                .engine
                .login(step.name(), prep, &redirect_uri, jar, &mut trace)
                .await;
            run.exchanges = trace.exchanges;
            *sent += trace.sent;
            return r
                .map(|_| ())
                .map_err(|error| Stop::Transport { step: 0, error });
        }
        let Some(req) = &case_step.request else {
            return Err(Stop::Missing {
                step: 0,
                why: "a step with neither request nor login".into(),
            });
        };
        let prep = qoauth_harness::plan::prepare_request(req, b).map_err(missing)?;
        let times = case_step.repeat.unwrap_or(1).max(1);
        if case_step.concurrent && times > 1 {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..times {
                let engine = Arc::clone(&self.engine);
                let jar = Arc::clone(jar);
                let prep = prep.clone();
                set.spawn(async move {
                    let t = Instant::now();
                    let (n, r) = engine.send(&prep, &jar, true).await;
                    (prep, t.elapsed(), n, r)
                });
            }
            let mut first_err = None;
            while let Some(j) = set.join_next().await {
                let Ok((p, d, n, r)) = j else { continue };
                *sent += n;
                match &r {
                    Ok(o) => self.engine.note_minted(o),
                    Err(e) => {
                        first_err.get_or_insert(e.clone());
                    }
                }
                run.exchanges.push(exchange(step.name(), p, d, r));
            }
            return match first_err {
                Some(error) => Err(Stop::Transport { step: 0, error }),
                None => Ok(()),
            };
        }
        for _ in 0..times {
            let t = Instant::now();
            let (mut n, mut r) = self.engine.send(&prep, jar, true).await;
            if r.as_ref().err().is_some_and(stale_connection) {
                // A pooled keep-alive connection the server had just closed: the request
                // never reached it. Once more on a fresh connection; a server that
                // really drops the request drops it again.
                let (n2, r2) = self.engine.send(&prep, jar, true).await;
                n += n2;
                r = r2;
            }
            *sent += n;
            let err = r.as_ref().err().cloned();
            if let Ok(o) = &r {
                self.engine.note_minted(o);
            }
            run.exchanges
                .push(exchange(step.name(), prep.clone(), t.elapsed(), r));
            if let Some(error) = err {
                return Err(Stop::Transport { step: 0, error });
            }
        }
        Ok(())
    }
}

fn exchange(
    step: &str,
    request: Prepared,
    elapsed: Duration,
    r: Result<Observed, Transport>,
) -> RawExchange {
    RawExchange {
        step: step.to_string(),
        request,
        response: r.as_ref().ok().cloned(),
        error: r.err(),
        elapsed,
    }
}

/// Whether a transport error is the keep-alive race (the server closed an idle pooled
/// connection as the request went out) rather than anything the request caused.
fn stale_connection(e: &Transport) -> bool {
    matches!(e, Transport::Other(m) if m.contains("connection closed before message completed"))
}
