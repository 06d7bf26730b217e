//! The properties: each a rule (named after the clause it enforces), the scenarios that
//! probe it, and the check that judges them.

use crate::exec::Executed;
use crate::flows;
use crate::gen::{self, Vocab};
use crate::model::{self, Lifecycle, Op};
use crate::rules::{self, Ctx, Verdict};
use crate::scenario::Scenario;
use proptest::prelude::*;
use proptest_state_machine::ReferenceStateMachine;
use qoauth_harness::result::{Level, Reference};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// One generated input: a scenario, and for model-based sequences the operations the
/// model judges it by.
#[derive(Clone)]
pub struct Input {
    pub scenario: Scenario,
    pub ops: Option<Vec<Op>>,
    /// How many operations of a sequence ran before it ended; shrinking drops the rest.
    pub seen: Option<Arc<AtomicUsize>>,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.scenario)
    }
}

pub type Check = fn(&Ctx, &Input, &Executed) -> Verdict;

pub struct Property {
    pub name: &'static str,
    pub title: &'static str,
    pub level: Level,
    pub endpoint: &'static str,
    pub refs: Vec<Reference>,
    pub strategy: fn(&Vocab) -> BoxedStrategy<Input>,
    pub check: Check,
    /// Why the target cannot run this property, if it cannot.
    pub needs: fn(&Vocab) -> Option<&'static str>,
}

fn r(doc: &str, section: &str, quote: &str) -> Reference {
    Reference {
        doc: doc.into(),
        section: section.into(),
        quote: if quote.is_empty() {
            None
        } else {
            Some(quote.into())
        },
    }
}

fn single(s: BoxedStrategy<Scenario>) -> BoxedStrategy<Input> {
    s.prop_map(|scenario| Input {
        scenario,
        ops: None,
        seen: None,
    })
    .boxed()
}

fn always(_: &Vocab) -> Option<&'static str> {
    None
}

fn needs_flows(v: &Vocab) -> Option<&'static str> {
    (!v.flows()).then_some("the profile cannot log a user in (login mode none or interactive, or no client with a redirect URI)")
}

fn needs_exchange(v: &Vocab) -> Option<&'static str> {
    needs_flows(v).or_else(|| {
        (!v.token_exchange).then_some(
            "access tokens are observed through a token exchange, which the profile does not offer",
        )
    })
}

fn needs_assertion(v: &Vocab) -> Option<&'static str> {
    (!v.assertion).then_some("the profile has no assertion client with a key")
}

/// For the real service's own choices among several the RFCs allow: judged only for a
/// profile that asks for Qlik fidelity.
fn needs_assertion_qlik(v: &Vocab) -> Option<&'static str> {
    needs_assertion(v).or_else(|| {
        (!v.qlik_fidelity).then_some(
            "RFC 7523 3 makes replay protection a MAY; the real service's single-use jti is judged only with \"fidelity\": \"qlik\"",
        )
    })
}

macro_rules! scenario_check {
    ($f:path) => {
        |ctx: &Ctx, input: &Input, ex: &Executed| $f(ctx, &input.scenario, ex)
    };
}

fn any_with_flows(v: &Vocab) -> BoxedStrategy<Input> {
    if v.flows() {
        single(prop_oneof![6 => gen::any_request(v), 1 => flows::flow_scenario(v)].boxed())
    } else {
        single(gen::any_request(v))
    }
}

fn success_inputs(v: &Vocab) -> BoxedStrategy<Input> {
    if v.flows() {
        single(
            prop_oneof![3 => gen::token_success_request(v), 2 => flows::flow_scenario(v)].boxed(),
        )
    } else {
        single(gen::token_success_request(v))
    }
}

fn scope_inputs(v: &Vocab) -> BoxedStrategy<Input> {
    success_inputs(v)
}

fn secret_inputs(v: &Vocab) -> BoxedStrategy<Input> {
    any_with_flows(v)
}

fn lifecycle(v: &Vocab) -> BoxedStrategy<Input> {
    model::set_vocab(v.clone());
    Lifecycle::sequential_strategy(1..16)
        .prop_map(|(_, ops, seen)| {
            let (scenario, _) = model::to_scenario(&ops);
            Input {
                scenario,
                ops: Some(ops),
                seen,
            }
        })
        .boxed()
}

fn lifecycle_check(ctx: &Ctx, input: &Input, ex: &Executed) -> Verdict {
    let Some(ops) = &input.ops else {
        return Verdict::NotApplicable("no operations".into());
    };
    let v = model::compare(ops, ex);
    // The count tells the shrinker which operations to drop. With shrinking off, the
    // state-machine strategy would panic on reading a failing value back with it set.
    if let (true, Some(seen)) = (ctx.shrinking, &input.seen) {
        let n = match &v {
            Verdict::Broken(b) => b.step + 1,
            _ => ops.len(),
        };
        seen.store(n, Ordering::SeqCst);
    }
    v
}

fn lifecycle_needs(v: &Vocab) -> Option<&'static str> {
    (v.secret_roles.is_empty() && !v.flows())
        .then_some("the profile has neither a confidential client nor a way to log in")
}

/// Every property, in report order.
pub fn all() -> Vec<Property> {
    vec![
        Property {
            name: "rfc9110_15_6_no_server_error_or_hang",
            title: "No request, however malformed, gets a 5xx or no timely response",
            level: Level::Must,
            endpoint: "token",
            refs: vec![
                r("RFC6749", "5.2", "The authorization server responds with an HTTP 400 (Bad Request) status code (unless specified otherwise)"),
                r("spec", "POST /oauth/token 400", "Invalid request parameters."),
            ],
            strategy: any_with_flows,
            check: scenario_check!(rules::no_server_error),
            needs: always,
        },
        Property {
            name: "spec_errors_envelope_status_matches",
            title: "Every error is an Errors envelope whose status equals the HTTP status",
            level: Level::Must,
            endpoint: "token",
            refs: vec![
                r("spec", "Errors", "A representation of the errors encountered from the HTTP request."),
                r("notes", "1. What the clients send", "[API] parses the JSON whatever the status and throws if errors is present, so error bodies must be a JSON errors envelope"),
            ],
            strategy: |v| single(gen::any_request(v)),
            check: scenario_check!(rules::error_envelope),
            needs: always,
        },
        Property {
            name: "spec_token_response_schema",
            title: "Every successful token response matches oauth-token-response",
            level: Level::Must,
            endpoint: "token",
            refs: vec![r("spec", "POST /oauth/token 200", "Token set created.")],
            strategy: success_inputs,
            check: scenario_check!(rules::token_schema),
            needs: always,
        },
        Property {
            name: "rfc6749_5_1_token_response_no_store",
            title: "Every successful token response carries Cache-Control: no-store",
            level: Level::Must,
            endpoint: "token",
            refs: vec![r(
                "RFC6749",
                "5.1",
                "The authorization server MUST include the HTTP \"Cache-Control\" response header field [RFC2616] with a value of \"no-store\" in any response containing tokens, credentials, or other sensitive information",
            )],
            strategy: success_inputs,
            check: scenario_check!(rules::token_no_store),
            needs: always,
        },
        Property {
            name: "rfc6749_5_1_token_response_future_expiry",
            title: "Every successful token response states an expiry in the future",
            level: Level::Should,
            endpoint: "token",
            refs: vec![
                r("RFC6749", "5.1", "expires_in RECOMMENDED. The lifetime in seconds of the access token."),
                r("notes", "Ambiguities 10", "Send both expires_in (RFC 6749 §5.1) and a consistent expires_at"),
            ],
            strategy: success_inputs,
            check: scenario_check!(rules::token_future_expiry),
            needs: always,
        },
        Property {
            name: "rfc6749_4_1_2_1_authorize_no_unregistered_redirect",
            title: "Authorize never redirects to a URI not registered for the client",
            level: Level::Must,
            endpoint: "authorize",
            refs: vec![
                r(
                    "RFC6749",
                    "4.1.2.1",
                    "the authorization server SHOULD inform the resource owner of the error and MUST NOT automatically redirect the user-agent to the invalid redirection URI.",
                ),
                r("RFC9700", "4.1.3", "the authorization server MUST ensure that the redirect URI matches exactly"),
            ],
            strategy: |v| single(gen::authorize_requests(v)),
            check: scenario_check!(rules::authorize_registered_redirect),
            needs: always,
        },
        Property {
            name: "rfc6749_4_1_2_authorize_returns_state",
            title: "Every redirect back to the client carries the state it sent",
            level: Level::Must,
            endpoint: "authorize",
            refs: vec![
                r("RFC6749", "4.1.2", "state REQUIRED if the \"state\" parameter was present in the client authorization request. The exact value received from the client."),
                r("RFC6749", "4.1.2.1", "state REQUIRED if a \"state\" parameter was present in the client authorization request."),
            ],
            strategy: |v| single(gen::authorize_requests(v)),
            check: scenario_check!(rules::authorize_returns_state),
            needs: always,
        },
        Property {
            name: "rfc7636_4_6_only_matching_verifier_redeems",
            title: "Only the verifier whose S256 is the code's challenge redeems it",
            level: Level::Must,
            endpoint: "token",
            refs: vec![r("RFC7636", "4.6", "If the values are not equal, an error response indicating \"invalid_grant\" as described in Section 4.1.4 MUST be returned.")],
            strategy: |v| single(flows::verifier_scenario(v)),
            check: scenario_check!(rules::only_matching_verifier),
            needs: needs_flows,
        },
        Property {
            name: "rfc6749_4_1_2_code_single_use",
            title: "An authorization code never works twice",
            level: Level::Must,
            endpoint: "token",
            refs: vec![r("RFC6749", "4.1.2", "If an authorization code is used more than once, the authorization server MUST deny the request")],
            strategy: |v| single(flows::code_replay_scenario(v)),
            check: scenario_check!(rules::code_single_use),
            needs: needs_flows,
        },
        Property {
            name: "rfc9700_4_14_2_rotated_refresh_single_use",
            title: "A rotated-out refresh token never works again",
            level: Level::Must,
            endpoint: "token",
            refs: vec![
                r("RFC9700", "4.14.2", "the authorization server issues a new refresh token with every access token refresh response. The previous refresh token is invalidated"),
                r("notes", "Ambiguities 8", "rotate it and detect reuse (RFC 9700 §4.14.2)"),
            ],
            strategy: |v| single(flows::refresh_replay_scenario(v)),
            check: scenario_check!(rules::refresh_single_use),
            needs: needs_flows,
        },
        Property {
            name: "rfc7009_2_1_revoked_token_unusable",
            title: "A revoked refresh token never works again",
            level: Level::Must,
            endpoint: "revoke",
            refs: vec![
                r("RFC7009", "2.1", "The invalidation takes place immediately, and the token cannot be used again after the revocation."),
                r("RFC7009", "2", "Implementations MUST support the revocation of refresh tokens"),
            ],
            strategy: |v| single(flows::revoke_scenario(v, false)),
            check: scenario_check!(rules::revoked_unusable),
            needs: needs_flows,
        },
        Property {
            name: "rfc7009_2_revoked_access_token_unusable",
            title: "A revoked access token never works again",
            level: Level::Should,
            endpoint: "revoke",
            refs: vec![
                r("RFC7009", "2", "Implementations ... SHOULD support the revocation of access tokens"),
                r("RFC7009", "2.1", "The invalidation takes place immediately, and the token cannot be used again after the revocation."),
            ],
            strategy: |v| single(flows::revoke_scenario(v, true)),
            check: scenario_check!(rules::revoked_unusable),
            needs: needs_exchange,
        },
        Property {
            name: "rfc6749_3_3_scope_never_widens",
            title: "Granted scope never exceeds the requested or original scope",
            level: Level::Must,
            endpoint: "token",
            refs: vec![
                r("RFC6749", "3.3", "The authorization server MAY fully or partially ignore the scope requested by the client"),
                r("RFC6749", "6", "The requested scope MUST NOT include any scope not originally granted by the resource owner"),
                r("notes", "2. Documented or observed server behaviour", "offline_access is never implicit; it must be requested to get a refresh token."),
            ],
            strategy: scope_inputs,
            check: scenario_check!(rules::scope_never_widens),
            needs: always,
        },
        Property {
            name: "rfc6749_10_3_secrets_never_echoed",
            title: "No response repeats a secret, verifier, assertion or code the client sent",
            level: Level::Must,
            endpoint: "token",
            refs: vec![r("RFC6749", "10.3", "Access token credentials (as well as any confidential access token attributes) MUST be kept confidential in transit and storage")],
            strategy: secret_inputs,
            check: scenario_check!(rules::secrets_not_echoed),
            needs: always,
        },
        Property {
            name: "rfc7523_3_assertion_single_use",
            title: "A client assertion is refused when replayed",
            level: Level::Should,
            endpoint: "token",
            refs: vec![
                r("RFC7523", "3", "The authorization server MAY ensure that JWTs are not replayed by maintaining the set of used \"jti\" values"),
                r("notes", "Ambiguities 14", "Exact aud, exp ≤ 5 min, single-use jti (RFC 7523 §3)"),
            ],
            strategy: |v| single(flows::assertion_replay_scenario(v)),
            check: scenario_check!(rules::assertion_single_use),
            needs: needs_assertion_qlik,
        },
        Property {
            name: "rfc6749_rfc7009_token_lifecycle_model",
            title: "Random sequences of issue, redeem, refresh, exchange, revoke and replay follow the lifecycle model",
            level: Level::Must,
            endpoint: "token",
            refs: vec![
                r("RFC6749", "4.1.2", "If an authorization code is used more than once, the authorization server MUST deny the request"),
                r("RFC6749", "6", ""),
                r("RFC7009", "2.1", "The invalidation takes place immediately, and the token cannot be used again after the revocation."),
                r("RFC9700", "4.14.2", ""),
            ],
            strategy: lifecycle,
            check: lifecycle_check,
            needs: lifecycle_needs,
        },
        Property {
            name: "rfc6749_10_5_racing_code_redemptions_single_success",
            title: "Concurrent redemptions of one code: at most one succeeds",
            level: Level::Must,
            endpoint: "token",
            refs: vec![
                r("RFC6749", "10.5", "Authorization codes MUST be short lived and single-use."),
                r("RFC6749", "4.1.2", "If an authorization code is used more than once, the authorization server MUST deny the request"),
            ],
            strategy: |v| single(flows::code_race_scenario(v)),
            check: scenario_check!(rules::code_race),
            needs: needs_flows,
        },
        Property {
            name: "rfc9700_4_14_2_racing_refreshes_single_success",
            title: "Concurrent refreshes of one refresh token: at most one succeeds",
            level: Level::Must,
            endpoint: "token",
            refs: vec![r("RFC9700", "4.14.2", "The previous refresh token is invalidated but retained by the authorization server.")],
            strategy: |v| single(flows::refresh_race_scenario(v)),
            check: scenario_check!(rules::refresh_race),
            needs: needs_flows,
        },
    ]
}
