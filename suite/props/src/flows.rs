//! Multi-step scenarios: a login and what follows it (redeem, refresh, revoke, replay),
//! client-assertion replay, and concurrent redemptions and refreshes.

use crate::gen::{
    self, exchange_req, login_scope, login_step, redeem_req, refresh_req, revoke_req, state_value,
    verifier, AssertionKind, ClientAuth, Vocab,
};
use crate::scenario::{Req, Scenario, Step};
use proptest::prelude::*;
use serde_json::{json, Value};

fn with_capture(step: Step, caps: &[(&str, &str)]) -> Step {
    match step {
        Step::Send {
            name,
            req,
            repeat,
            concurrent,
            ..
        } => Step::Send {
            name,
            req,
            capture: caps
                .iter()
                .map(|(k, p)| (k.to_string(), p.to_string()))
                .collect(),
            repeat,
            concurrent,
        },
        other => other,
    }
}

fn named(name: &str, req: Req) -> Step {
    Step::send(name, req)
}

fn login_roles(v: &Vocab) -> BoxedStrategy<String> {
    prop::sample::select(v.login_roles.clone()).boxed()
}

/// Ways to present a verifier at redemption, relative to the one the challenge hides.
#[derive(Debug, Clone, Copy)]
enum VerifierUse {
    Matching,
    Appended,
    LastDropped,
    FirstChanged,
    Empty,
    Absent,
    Challenge,
    Other,
    Upper,
}

/// Login with the challenge of one verifier, redeem with the same or another.
pub fn verifier_scenario(v: &Vocab) -> BoxedStrategy<Scenario> {
    use VerifierUse::*;
    let uses = vec![
        Matching,
        Matching,
        Matching,
        Appended,
        LastDropped,
        FirstChanged,
        Empty,
        Absent,
        Challenge,
        Other,
        Upper,
    ];
    (
        login_roles(v),
        verifier(),
        verifier(),
        prop::sample::select(uses),
        gen::good_carrier(),
        state_value(),
        login_scope(v, false),
    )
        .prop_map(|(role, ver, other, how, carrier, state, scope)| {
            let presented: Option<String> = match how {
                Matching => Some(ver.clone()),
                Appended => Some(format!("{ver}A")),
                LastDropped => Some(ver[..ver.len() - 1].to_string()),
                FirstChanged => {
                    let first = if ver.starts_with('A') { 'B' } else { 'A' };
                    Some(format!("{first}{}", &ver[1..]))
                }
                Empty => Some(String::new()),
                Absent => None,
                Challenge => Some("{{challenge}}".into()),
                Other => Some(other),
                Upper => Some(ver.to_ascii_uppercase()),
            };
            let (req, lets) = redeem_req(&role, presented.as_deref(), carrier);
            Scenario {
                lets: vec![
                    ("verifier_text".into(), Value::String(ver.clone())),
                    ("challenge".into(), json!({"s256": "{{verifier_text}}"})),
                ],
                steps: vec![login_step(&role, Some(scope), &state), named("redeem", req)],
            }
            .with_lets(lets)
        })
        .boxed()
}

/// Login, redeem, redeem the same code again (maybe encoded differently).
pub fn code_replay_scenario(v: &Vocab) -> BoxedStrategy<Scenario> {
    (
        login_roles(v),
        verifier(),
        gen::good_carrier(),
        gen::good_carrier(),
        state_value(),
        login_scope(v, false),
    )
        .prop_map(|(role, ver, c1, c2, state, scope)| {
            let (r1, lets) = redeem_req(&role, Some(&ver), c1);
            let (r2, _) = redeem_req(&role, Some(&ver), c2);
            Scenario {
                lets: gen::pkce_lets(&ver),
                steps: vec![
                    login_step(&role, Some(scope), &state),
                    named("redeem", r1),
                    named("redeem again", r2),
                ],
            }
            .with_lets(lets)
        })
        .boxed()
}

/// Login with offline_access, redeem, refresh, then refresh with the first token again.
pub fn refresh_replay_scenario(v: &Vocab) -> BoxedStrategy<Scenario> {
    (
        login_roles(v),
        verifier(),
        gen::good_carrier(),
        gen::good_carrier(),
        any::<bool>(),
        state_value(),
        login_scope(v, true),
    )
        .prop_map(|(role, ver, c1, c2, with_id, state, scope)| {
            let (redeem, mut lets) = redeem_req(&role, Some(&ver), gen::scenario_carrier());
            let (r1, l1) = refresh_req(&role, "refresh_token", with_id, None, c1);
            let (r2, _) = refresh_req(&role, "refresh_token", with_id, None, c2);
            lets.extend(l1);
            Scenario {
                lets: gen::pkce_lets(&ver),
                steps: vec![
                    login_step(&role, Some(scope), &state),
                    with_capture(
                        named("redeem", redeem),
                        &[
                            ("access_token", "/access_token"),
                            ("refresh_token", "/refresh_token"),
                        ],
                    ),
                    with_capture(named("refresh", r1), &[("rotated", "/refresh_token")]),
                    named("refresh with the rotated-out token", r2),
                ],
            }
            .with_lets(lets)
        })
        .boxed()
}

/// Login, redeem, revoke the refresh token (`access` false) or the access token, then use
/// it. The two are properties of their own: RFC 7009 2 makes revoking refresh tokens a
/// MUST and access tokens a SHOULD.
pub fn revoke_scenario(v: &Vocab, access: bool) -> BoxedStrategy<Scenario> {
    let exchange = v.token_exchange;
    (
        login_roles(v),
        verifier(),
        Just(access),
        prop::sample::select(vec![None, Some("access_token"), Some("refresh_token")]),
        any::<bool>(),
        gen::good_carrier(),
        state_value(),
        login_scope(v, true),
    )
        .prop_map(
            move |(role, ver, pick_access, hint, bearer, carrier, state, scope)| {
                // Access tokens are only observable through an exchange by the public client.
                let access = pick_access && exchange && role == "public";
                let (redeem, mut lets) = redeem_req(&role, Some(&ver), gen::scenario_carrier());
                let var = if access {
                    "access_token"
                } else {
                    "refresh_token"
                };
                let revoke = revoke_req(var, hint, bearer && access, carrier.clone());
                let use_it = if access {
                    exchange_req("access_token", "websocket", carrier)
                } else {
                    let (r, l) = refresh_req(&role, "refresh_token", true, None, carrier);
                    lets.extend(l);
                    r
                };
                Scenario {
                    lets: gen::pkce_lets(&ver),
                    steps: vec![
                        login_step(&role, Some(scope), &state),
                        with_capture(
                            named("redeem", redeem),
                            &[
                                ("access_token", "/access_token"),
                                ("refresh_token", "/refresh_token"),
                            ],
                        ),
                        named("revoke", revoke),
                        named("use the revoked token", use_it),
                    ],
                }
                .with_lets(lets)
            },
        )
        .boxed()
}

/// One valid client assertion presented twice.
pub fn assertion_replay_scenario(_: &Vocab) -> BoxedStrategy<Scenario> {
    (
        prop::sample::select(vec![AssertionKind::Valid, AssertionKind::ValidRs256]),
        gen::good_carrier(),
        gen::good_carrier(),
    )
        .prop_map(|(kind, c1, c2)| {
            let mut a = Req::post(
                gen::TOKEN,
                vec![
                    ("grant_type".into(), json!(gen::GRANT_CC)),
                    ("scope".into(), json!("user_default")),
                ],
                c1,
            );
            let lets = gen::apply_auth(&mut a, "assertion", &ClientAuth::Assertion(kind));
            let mut b = a.clone();
            b.carrier = c2;
            Scenario {
                lets,
                steps: vec![
                    named("use the assertion", a),
                    named("replay the assertion", b),
                ],
            }
        })
        .boxed()
}

/// Login, then `n` concurrent redemptions of the one code.
pub fn code_race_scenario(v: &Vocab) -> BoxedStrategy<Scenario> {
    (
        login_roles(v),
        verifier(),
        2u32..8,
        gen::good_carrier(),
        state_value(),
        login_scope(v, false),
    )
        .prop_map(|(role, ver, n, carrier, state, scope)| {
            let (r, lets) = redeem_req(&role, Some(&ver), carrier);
            Scenario {
                lets: gen::pkce_lets(&ver),
                steps: vec![
                    login_step(&role, Some(scope), &state),
                    Step::Send {
                        name: "racing redemptions".into(),
                        req: r,
                        capture: Vec::new(),
                        repeat: Some(n),
                        concurrent: true,
                    },
                ],
            }
            .with_lets(lets)
        })
        .boxed()
}

/// Login, redeem, then `n` concurrent refreshes of the one refresh token.
pub fn refresh_race_scenario(v: &Vocab) -> BoxedStrategy<Scenario> {
    (
        login_roles(v),
        verifier(),
        2u32..8,
        gen::good_carrier(),
        state_value(),
        login_scope(v, true),
    )
        .prop_map(|(role, ver, n, carrier, state, scope)| {
            let (redeem, mut lets) = redeem_req(&role, Some(&ver), gen::scenario_carrier());
            let (r, l) = refresh_req(&role, "refresh_token", true, None, carrier);
            lets.extend(l);
            Scenario {
                lets: gen::pkce_lets(&ver),
                steps: vec![
                    login_step(&role, Some(scope), &state),
                    with_capture(
                        named("redeem", redeem),
                        &[("refresh_token", "/refresh_token")],
                    ),
                    Step::Send {
                        name: "racing refreshes".into(),
                        req: r,
                        capture: Vec::new(),
                        repeat: Some(n),
                        concurrent: true,
                    },
                ],
            }
            .with_lets(lets)
        })
        .boxed()
}

/// Full flows whose every token response the success rules judge: login, redeem, then
/// maybe a refresh (with a narrower scope or none) and an exchange.
pub fn flow_scenario(v: &Vocab) -> BoxedStrategy<Scenario> {
    let exchange = v.token_exchange;
    (
        login_roles(v),
        verifier(),
        any::<bool>(),
        any::<bool>(),
        gen::good_carrier(),
        state_value(),
        login_scope(v, true),
        any::<bool>(),
    )
        .prop_map(
            move |(role, ver, refresh, exch, carrier, state, scope, narrow)| {
                let (redeem, mut lets) = redeem_req(&role, Some(&ver), carrier.clone());
                let mut steps = vec![
                    login_step(&role, Some(scope.clone()), &state),
                    with_capture(
                        named("redeem", redeem),
                        &[
                            ("access_token", "/access_token"),
                            ("refresh_token", "/refresh_token"),
                        ],
                    ),
                ];
                if refresh {
                    let narrower = scope
                        .split_whitespace()
                        .next()
                        .map(str::to_string)
                        .filter(|_| narrow);
                    let (r, l) = refresh_req(
                        &role,
                        "refresh_token",
                        true,
                        narrower.as_deref(),
                        carrier.clone(),
                    );
                    lets.extend(l);
                    steps.push(named("refresh", r));
                }
                if exch && exchange && role == "public" {
                    steps.push(named(
                        "exchange",
                        exchange_req("access_token", "websocket", carrier),
                    ));
                }
                Scenario {
                    lets: gen::pkce_lets(&ver),
                    steps,
                }
                .with_lets(lets)
            },
        )
        .boxed()
}

/// Whether a scenario's responses agree with "at most one of the repeated requests
/// succeeded"; for the race rules.
pub fn at_most_one_success(ex: &crate::exec::Executed, step: usize) -> Option<(usize, usize)> {
    let s = ex.step(step)?;
    let ok = s.responses().filter(|o| o.status == 200).count();
    Some((ok, s.exchanges.len()))
}
