//! A model of the token lifecycle: codes, access tokens and refresh tokens, each live,
//! dead or unknown (where the RFCs let a server choose, e.g. whether revoking an access
//! token also revokes its refresh token). Random sequences of issue, redeem, refresh,
//! exchange, revoke and replay run against the target and the model side by side; the
//! first step whose outcome the model rules out is a divergence, and proptest shrinks
//! the sequence to the shortest one that still diverges.

use crate::exec::Executed;
use crate::gen::{self, exchange_req, redeem_req, refresh_req, revoke_req, ClientAuth, Vocab};
use crate::rules::{Verdict, Violation};
use crate::scenario::{Carrier, Req, Scenario, Step};
use proptest::prelude::*;
use proptest_state_machine::ReferenceStateMachine;
use qoauth_harness::cases::{Expect as CaseExpect, Matcher};
use serde_json::{json, Value};
use std::sync::RwLock;

/// What the model knows of one credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Life {
    Live,
    Dead,
    /// The server may have kept or killed it; the next observation decides.
    Unknown,
}

#[derive(Debug, Clone)]
pub struct Code {
    pub role: String,
    pub offline: bool,
    pub life: Life,
}

#[derive(Debug, Clone)]
pub struct Access {
    pub life: Life,
    /// Only a user's token of the public client can be exchanged by it.
    pub exchangeable: bool,
    pub family: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct Refresh {
    pub role: String,
    pub life: Life,
    pub family: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Model {
    pub codes: Vec<Code>,
    pub access: Vec<Access>,
    pub refresh: Vec<Refresh>,
    pub families: usize,
}

/// One operation on the target.
#[derive(Debug, Clone)]
pub enum Op {
    ClientCredentials { role: String, json: bool },
    Impersonate,
    Authorize { role: String, offline: bool },
    Redeem { code: usize, json: bool },
    Refresh { rt: usize, json: bool },
    Exchange { at: usize },
    RevokeAccess { at: usize, hint: bool },
    RevokeRefresh { rt: usize, hint: bool },
}

/// What the model predicts for an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Success,
    Refused,
    Either,
}

fn vocab_cell() -> &'static RwLock<Option<Vocab>> {
    static V: RwLock<Option<Vocab>> = RwLock::new(None);
    &V
}

fn vocab() -> Option<Vocab> {
    vocab_cell().read().ok().and_then(|v| v.clone())
}

/// The generators need the profile's vocabulary; the trait gives them no argument.
pub fn set_vocab(v: Vocab) {
    if let Ok(mut w) = vocab_cell().write() {
        *w = Some(v);
    }
}

fn carrier(json: bool) -> Carrier {
    if json {
        Carrier::Json
    } else {
        Carrier::Form
    }
}

impl Model {
    /// Operations name credentials by recency (0 = the latest), so that shrinking can
    /// delete an unrelated earlier step without changing what later steps refer to;
    /// this turns them into positions.
    pub fn absolute(&self, op: &Op) -> Op {
        let back = |len: usize, k: usize| len.saturating_sub(1).saturating_sub(k);
        match op {
            Op::Redeem { code, json } => Op::Redeem {
                code: back(self.codes.len(), *code),
                json: *json,
            },
            Op::Refresh { rt, json } => Op::Refresh {
                rt: back(self.refresh.len(), *rt),
                json: *json,
            },
            Op::RevokeRefresh { rt, hint } => Op::RevokeRefresh {
                rt: back(self.refresh.len(), *rt),
                hint: *hint,
            },
            Op::Exchange { at } => Op::Exchange {
                at: back(self.access.len(), *at),
            },
            Op::RevokeAccess { at, hint } => Op::RevokeAccess {
                at: back(self.access.len(), *at),
                hint: *hint,
            },
            other => other.clone(),
        }
    }

    /// The prediction for `op` (credentials by recency) in this state.
    pub fn predict(&self, op: &Op) -> Expect {
        self.predict_abs(&self.absolute(op))
    }

    /// The state after `op` (credentials by recency), given whether the target accepted it.
    pub fn after(self, op: &Op, ok: bool) -> Model {
        let a = self.absolute(op);
        self.after_abs(&a, ok)
    }

    fn predict_abs(&self, op: &Op) -> Expect {
        let from = |l: Life| match l {
            Life::Live => Expect::Success,
            Life::Dead => Expect::Refused,
            Life::Unknown => Expect::Either,
        };
        match op {
            Op::ClientCredentials { .. } | Op::Impersonate | Op::Authorize { .. } => {
                Expect::Success
            }
            Op::Redeem { code, .. } => from(self.codes[*code].life),
            Op::Refresh { rt, .. } => from(self.refresh[*rt].life),
            Op::Exchange { at } => match (self.access[*at].life, self.access[*at].exchangeable) {
                // A dead token is never exchanged (RFC 7009 2.1: it "cannot be used again").
                (Life::Dead, _) => Expect::Refused,
                (life, true) => from(life),
                // Another client's or a machine token: RFC 8693 2.1 leaves whether it may be
                // exchanged "at the discretion of the authorization server".
                (_, false) => Expect::Either,
            },
            // RFC 7009 2.2: 200 whether or not the token was valid.
            Op::RevokeAccess { .. } | Op::RevokeRefresh { .. } => Expect::Success,
        }
    }

    fn after_abs(mut self, op: &Op, ok: bool) -> Model {
        match op {
            Op::ClientCredentials { .. } | Op::Impersonate => {
                if ok {
                    self.access.push(Access {
                        life: Life::Live,
                        exchangeable: false,
                        family: None,
                    });
                }
            }
            Op::Authorize { role, offline } => {
                if ok {
                    self.codes.push(Code {
                        role: role.clone(),
                        offline: *offline,
                        life: Life::Live,
                    });
                }
            }
            Op::Redeem { code, .. } => {
                let c = self.codes[*code].clone();
                if ok && c.life != Life::Dead {
                    let family = self.families;
                    self.families += 1;
                    self.access.push(Access {
                        life: Life::Live,
                        exchangeable: c.role == "public",
                        family: Some(family),
                    });
                    if c.offline {
                        self.refresh.push(Refresh {
                            role: c.role.clone(),
                            life: Life::Live,
                            family,
                        });
                    }
                } else if c.life != Life::Dead {
                    // RFC 6749 4.1.2: a replayed code SHOULD revoke what it issued.
                }
                if !ok && c.life == Life::Dead {
                    self.kill_family_of_code(*code);
                }
                self.codes[*code].life = Life::Dead;
            }
            Op::Refresh { rt, .. } => {
                let r = self.refresh[*rt].clone();
                if ok {
                    self.refresh[*rt].life = Life::Dead;
                    self.access.push(Access {
                        life: Life::Live,
                        exchangeable: r.role == "public",
                        family: Some(r.family),
                    });
                    self.refresh.push(Refresh {
                        role: r.role.clone(),
                        life: Life::Live,
                        family: r.family,
                    });
                } else {
                    self.refresh[*rt].life = Life::Dead;
                    // RFC 9700 4.14.2: reuse of a rotated-out token may revoke the family.
                    self.unsure_family(r.family);
                }
            }
            Op::Exchange { .. } => {}
            Op::RevokeAccess { at, .. } => {
                // RFC 7009 2.1: the server MAY revoke the refresh token (and with it the
                // grant) as well.
                if let Some(f) = self.access[*at].family {
                    self.unsure_family(f);
                }
                self.access[*at].life = Life::Dead;
            }
            Op::RevokeRefresh { rt, .. } => {
                // RFC 7009 2.1: the grant's access tokens SHOULD go too; and revoking a
                // rotated-out token may be taken as the family's revocation (RFC 9700
                // 4.14.2), so every live credential of the family becomes unknown.
                let f = self.refresh[*rt].family;
                self.unsure_family(f);
                self.refresh[*rt].life = Life::Dead;
            }
        }
        self
    }

    /// The state after an observed outcome: [`Model::after`], except that a refresh that
    /// answered with the very token it was given (RFC 6749 6: a new refresh token is a MAY)
    /// leaves that token live.
    fn observed(
        self,
        op: &Op,
        ok: bool,
        o: Option<&qoauth_harness::verdict::Observed>,
        ex: &Executed,
    ) -> Model {
        let kept = match self.absolute(op) {
            Op::Refresh { rt, .. } if ok => {
                let presented = ex.var_str(&rt_var(rt));
                let returned = o.and_then(|o| o.json().ok()).and_then(|d| {
                    d.get("refresh_token")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                });
                (presented.is_some() && returned.as_deref() == presented).then_some(rt)
            }
            _ => None,
        };
        let mut next = self.after(op, ok);
        if let Some(rt) = kept {
            next.refresh[rt].life = Life::Live;
        }
        next
    }

    fn unsure_family(&mut self, family: usize) {
        for r in self
            .refresh
            .iter_mut()
            .filter(|r| r.family == family && r.life == Life::Live)
        {
            r.life = Life::Unknown;
        }
        for a in self
            .access
            .iter_mut()
            .filter(|a| a.family == Some(family) && a.life == Life::Live)
        {
            a.life = Life::Unknown;
        }
    }

    fn kill_family_of_code(&mut self, _code: usize) {
        // Which family a replayed code issued is not tracked per code; every live token
        // of a code grant becomes unknown.
        let fams: Vec<usize> = self.access.iter().filter_map(|a| a.family).collect();
        for f in fams {
            self.unsure_family(f);
        }
    }

    /// Which access and refresh token ids, in model order, an op's response holds.
    fn issues(&self, op: &Op) -> (bool, bool) {
        match op {
            Op::ClientCredentials { .. } | Op::Impersonate => (true, false),
            Op::Redeem { code, .. } => (true, self.codes[*code].offline),
            Op::Refresh { .. } => (true, true),
            _ => (false, false),
        }
    }
}

/// The state machine proptest generates sequences from. The generation state assumes
/// every prediction it cannot make (unknown) went well.
pub struct Lifecycle;

impl ReferenceStateMachine for Lifecycle {
    type State = Model;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::default()).boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Op> {
        let v = vocab();
        let mut options: Vec<(u32, BoxedStrategy<Op>)> = Vec::new();
        let Some(v) = v else {
            return Just(Op::Impersonate).boxed();
        };
        if !v.secret_roles.is_empty() {
            options.push((
                1,
                (prop::sample::select(v.secret_roles.clone()), any::<bool>())
                    .prop_map(|(role, json)| Op::ClientCredentials { role, json })
                    .boxed(),
            ));
        }
        if v.impersonation && v.user_roles.contains(&"default".to_string()) {
            options.push((1, Just(Op::Impersonate).boxed()));
        }
        if v.flows() {
            options.push((
                3,
                (prop::sample::select(v.login_roles.clone()), any::<bool>())
                    .prop_map(|(role, offline)| Op::Authorize { role, offline })
                    .boxed(),
            ));
        }
        if !state.codes.is_empty() {
            options.push((
                4,
                (0..state.codes.len(), any::<bool>())
                    .prop_map(|(code, json)| Op::Redeem { code, json })
                    .boxed(),
            ));
        }
        if !state.refresh.is_empty() {
            options.push((
                4,
                (0..state.refresh.len(), any::<bool>())
                    .prop_map(|(rt, json)| Op::Refresh { rt, json })
                    .boxed(),
            ));
            options.push((
                2,
                (0..state.refresh.len(), any::<bool>())
                    .prop_map(|(rt, hint)| Op::RevokeRefresh { rt, hint })
                    .boxed(),
            ));
        }
        if !state.access.is_empty() {
            if v.token_exchange {
                options.push((
                    3,
                    (0..state.access.len())
                        .prop_map(|at| Op::Exchange { at })
                        .boxed(),
                ));
            }
            options.push((
                2,
                (0..state.access.len(), any::<bool>())
                    .prop_map(|(at, hint)| Op::RevokeAccess { at, hint })
                    .boxed(),
            ));
        }
        if options.is_empty() {
            return Just(Op::Impersonate).boxed();
        }
        prop::strategy::Union::new_weighted(options).boxed()
    }

    fn apply(state: Model, op: &Op) -> Model {
        let ok = state.predict(op) != Expect::Refused;
        state.after(op, ok)
    }

    fn preconditions(state: &Model, op: &Op) -> bool {
        match op {
            Op::Redeem { code, .. } => *code < state.codes.len(),
            Op::Refresh { rt, .. } | Op::RevokeRefresh { rt, .. } => *rt < state.refresh.len(),
            Op::Exchange { at } | Op::RevokeAccess { at, .. } => *at < state.access.len(),
            _ => true,
        }
    }
}

fn code_var(i: usize) -> String {
    format!("code_{i}")
}
fn at_var(i: usize) -> String {
    format!("at_{i}")
}
fn rt_var(i: usize) -> String {
    format!("rt_{i}")
}

/// A sequence as a scenario: every op one step, captures named after the model's
/// indexes (`at_3`, `rt_1`), and the model's expectation of each step.
pub fn to_scenario(ops: &[Op]) -> (Scenario, Vec<Expect>) {
    let mut model = Model::default();
    let mut steps = Vec::new();
    let mut lets: Vec<(String, Value)> = Vec::new();
    let mut expects = Vec::new();
    for (n, rel) in ops.iter().enumerate() {
        let abs = model.absolute(rel);
        let op = &abs;
        let pred = model.predict_abs(op);
        let (has_at, has_rt) = model.issues(op);
        let mut caps: Vec<(String, String)> = Vec::new();
        if has_at {
            caps.push((at_var(model.access.len()), "/access_token".into()));
        }
        if has_rt {
            caps.push((rt_var(model.refresh.len()), "/refresh_token".into()));
        }
        let step = match op {
            Op::ClientCredentials { role, json } => {
                let mut r = Req::post(
                    gen::TOKEN,
                    vec![("grant_type".into(), json!(gen::GRANT_CC))],
                    carrier(*json),
                );
                lets.extend(gen::apply_auth(&mut r, role, &ClientAuth::BodySecret));
                send(n, "client credentials", r, caps)
            }
            Op::Impersonate => {
                let mut r = Req::post(
                    gen::TOKEN,
                    vec![("grant_type".into(), json!(gen::GRANT_IMPERSONATION))],
                    Carrier::Json,
                );
                lets.extend(gen::apply_auth(
                    &mut r,
                    "impersonation",
                    &ClientAuth::BodySecret,
                ));
                r.set(
                    "user_lookup",
                    json!({"field": "subject", "value": "{{users.default.subject}}"}),
                );
                r.set("scope", json!("user_default"));
                send(n, "impersonate", r, caps)
            }
            Op::Authorize { role, offline } => {
                let i = model.codes.len();
                let ver = format!("verifier-{i}-{}", "x".repeat(40));
                lets.push((format!("challenge_{i}"), json!({"s256": ver})));
                lets.push((format!("verifier_{i}"), Value::String(ver)));
                Step::Login {
                    name: format!("{n}: log in ({role})"),
                    client: role.clone(),
                    scope: Some(
                        if *offline {
                            "user_default offline_access"
                        } else {
                            "user_default"
                        }
                        .into(),
                    ),
                    state: format!("s{i}"),
                    challenge: Some(format!("{{{{challenge_{i}}}}}")),
                    code_var: code_var(i),
                }
            }
            Op::Redeem { code, json } => {
                let role = model.codes[*code].role.clone();
                let (mut r, l) = redeem_req(
                    &role,
                    Some(&format!("{{{{verifier_{code}}}}}")),
                    carrier(*json),
                );
                r.set(
                    "code",
                    Value::String(format!("{{{{{}}}}}", code_var(*code))),
                );
                lets.extend(l);
                send(n, &format!("redeem code {code}"), r, caps)
            }
            Op::Refresh { rt, json } => {
                let role = model.refresh[*rt].role.clone();
                let (r, l) = refresh_req(&role, &rt_var(*rt), true, None, carrier(*json));
                lets.extend(l);
                send(n, &format!("refresh with refresh token {rt}"), r, caps)
            }
            Op::Exchange { at } => send(
                n,
                &format!("exchange access token {at}"),
                exchange_req(&at_var(*at), "websocket", Carrier::Json),
                caps,
            ),
            Op::RevokeAccess { at, hint } => send(
                n,
                &format!("revoke access token {at}"),
                revoke_req(
                    &at_var(*at),
                    hint.then_some("access_token"),
                    false,
                    Carrier::Json,
                ),
                caps,
            ),
            Op::RevokeRefresh { rt, hint } => send(
                n,
                &format!("revoke refresh token {rt}"),
                revoke_req(
                    &rt_var(*rt),
                    hint.then_some("refresh_token"),
                    false,
                    Carrier::Json,
                ),
                caps,
            ),
        };
        steps.push(step);
        expects.push(pred);
        let ok = pred != Expect::Refused;
        model = model.after_abs(op, ok);
    }
    let mut seen = std::collections::HashSet::new();
    lets.retain(|(k, _)| seen.insert(k.clone()));
    (Scenario { lets, steps }, expects)
}

fn send(n: usize, what: &str, req: Req, capture: Vec<(String, String)>) -> Step {
    Step::Send {
        name: format!("{n}: {what}"),
        req,
        capture,
        repeat: None,
        concurrent: false,
    }
}

/// The statuses a case accepts where the model predicts success or refusal.
const SUCCESS: &[u16] = &[200, 201, 204];
const REFUSED: &[u16] = &[400, 401];

/// A login the model expects to succeed: its redirect carries a code.
fn code_issued() -> CaseExpect {
    CaseExpect::default().with_location_query("code", Matcher::present())
}

/// Runs the model beside the observations: the first step whose outcome it rules out
/// is the divergence. Unknown states take whatever the target did.
pub fn compare(ops: &[Op], ex: &Executed) -> Verdict {
    let mut model = Model::default();
    for (i, op) in ops.iter().enumerate() {
        let Some(run) = ex.step(i) else {
            // A step that could not run (a value an earlier, diverging-free step did not
            // give) ends the comparison.
            return Verdict::Held;
        };
        let Some(o) = run.last() else {
            return Verdict::Held;
        };
        let ok = match op {
            Op::Authorize { .. } => o.location_param("code").is_some(),
            _ => o.status / 100 == 2,
        };
        let pred = model.predict(op);
        let diverged = match pred {
            Expect::Success => !ok,
            Expect::Refused => ok,
            Expect::Either => false,
        };
        if diverged {
            let (expected, expect) = match (pred, op) {
                (Expect::Success, Op::Authorize { .. }) => {
                    ("a login that returns a code".to_string(), code_issued())
                }
                (Expect::Success, _) => ("success (2xx)".to_string(), CaseExpect::status(SUCCESS)),
                _ => (
                    "refusal (400 or 401)".to_string(),
                    CaseExpect::status(REFUSED),
                ),
            };
            let mut pre = Vec::new();
            let mut m2 = Model::default();
            for (j, op2) in ops.iter().enumerate().take(i) {
                match (m2.predict(op2), op2) {
                    (Expect::Success, Op::Authorize { .. }) => pre.push((j, code_issued())),
                    (Expect::Success, _) => pre.push((j, CaseExpect::status(SUCCESS))),
                    (Expect::Refused, _) => pre.push((j, CaseExpect::status(REFUSED))),
                    (Expect::Either, _) => {}
                }
                let o2 = ex.step(j).and_then(|r| r.last());
                let ok2 = o2.is_some_and(|o| match op2 {
                    Op::Authorize { .. } => o.location_param("code").is_some(),
                    _ => o.status / 100 == 2,
                });
                m2 = m2.observed(op2, ok2, o2, ex);
            }
            return Verdict::Broken(Box::new(Violation {
                step: i,
                expected: format!("step {i} ({op:?}): the model expects {expected}"),
                actual: format!("status {}", o.status),
                expect,
                expect_count: Default::default(),
                pre,
            }));
        }
        model = model.observed(op, ok, Some(o), ex);
    }
    Verdict::Held
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authorize(offline: bool) -> Op {
        Op::Authorize {
            role: "public".into(),
            offline,
        }
    }

    /// A rule, the history before it (each operation and whether the target accepted it),
    /// an operation and the prediction the rule demands for it.
    type Row = (&'static str, Vec<(Op, bool)>, Op, Expect);

    /// Each row: a history of operations (credentials named by recency, 0 the latest) and
    /// whether the target accepted each, then an operation and what the model must predict
    /// for it. One row per rule the model holds the target to, with its clause.
    #[test]
    fn predictions_follow_the_rules_of_each_clause() {
        let redeem = Op::Redeem {
            code: 0,
            json: true,
        };
        let refresh = |rt| Op::Refresh { rt, json: true };
        let table: Vec<Row> = vec![
            (
                "a fresh code is redeemed (RFC 6749 4.1.3)",
                vec![(authorize(false), true)],
                redeem.clone(),
                Expect::Success,
            ),
            (
                "a code is single use (RFC 6749 4.1.2)",
                vec![(authorize(false), true), (redeem.clone(), true)],
                redeem.clone(),
                Expect::Refused,
            ),
            (
                "a rotated-out refresh token is dead (RFC 9700 4.14.2)",
                vec![
                    (authorize(true), true),
                    (redeem.clone(), true),
                    (refresh(0), true),
                ],
                refresh(1),
                Expect::Refused,
            ),
            (
                "its successor lives",
                vec![
                    (authorize(true), true),
                    (redeem.clone(), true),
                    (refresh(0), true),
                ],
                refresh(0),
                Expect::Success,
            ),
            (
                "after a reuse, the family may or may not be revoked (RFC 9700 4.14.2)",
                vec![
                    (authorize(true), true),
                    (redeem.clone(), true),
                    (refresh(0), true),
                    (refresh(1), false),
                ],
                refresh(0),
                Expect::Either,
            ),
            (
                "a revoked refresh token is dead (RFC 7009 2.1)",
                vec![
                    (authorize(true), true),
                    (redeem.clone(), true),
                    (Op::RevokeRefresh { rt: 0, hint: true }, true),
                ],
                refresh(0),
                Expect::Refused,
            ),
            (
                "its grant's access tokens may survive it (RFC 7009 2.1 SHOULD)",
                vec![
                    (authorize(true), true),
                    (redeem.clone(), true),
                    (Op::RevokeRefresh { rt: 0, hint: true }, true),
                ],
                Op::Exchange { at: 0 },
                Expect::Either,
            ),
            (
                "a revoked access token is never exchanged (RFC 7009 2.1)",
                vec![
                    (authorize(false), true),
                    (redeem.clone(), true),
                    (Op::RevokeAccess { at: 0, hint: false }, true),
                ],
                Op::Exchange { at: 0 },
                Expect::Refused,
            ),
            (
                "a machine token's exchange is the server's choice (RFC 8693 2.1)",
                vec![(
                    Op::ClientCredentials {
                        role: "confidential".into(),
                        json: true,
                    },
                    true,
                )],
                Op::Exchange { at: 0 },
                Expect::Either,
            ),
            (
                "revoking a dead token still answers 200 (RFC 7009 2.2)",
                vec![
                    (authorize(true), true),
                    (redeem.clone(), true),
                    (Op::RevokeRefresh { rt: 0, hint: true }, true),
                ],
                Op::RevokeRefresh { rt: 0, hint: false },
                Expect::Success,
            ),
        ];
        for (rule, history, op, want) in table {
            let model = history
                .iter()
                .fold(Model::default(), |m, (op, ok)| m.after(op, *ok));
            assert_eq!(model.predict(&op), want, "{rule}");
        }
    }
}
