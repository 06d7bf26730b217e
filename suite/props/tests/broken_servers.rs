//! Against servers that each break one rule, the property for that rule fails, shrinks
//! to a small scenario, and writes a case file that fails the same way in the harness.

mod common;

use common::{cases, out_dir, serve, Fault};
use qoauth_harness::result::Verdict;
use qoauth_harness::{run, RunOptions};
use qoauth_testkit::profile::reference_at;
use std::sync::Arc;

/// Runs one property against a server broken by `fault` and checks the whole chain:
/// failure, shrinking, case file, harness replay.
fn catches(fault: Fault, property: &str, max_steps: usize) {
    catches_in(fault, property, max_steps, false);
}

fn catches_in(fault: Fault, property: &str, max_steps: usize, differential: bool) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let server = rt.block_on(serve(Some(fault)));
    let profile = reference_at(&server.base_url);
    let dir = out_dir(property);
    let opts = qoauth_props::Options {
        cases: cases(64),
        seed: Some(7),
        out_dir: dir.clone(),
        only: vec![property.to_string()],
        max_shrink_iters: 256,
        differential,
        ..Default::default()
    };
    let (result, found) =
        qoauth_props::run_properties_with(Some(profile.clone()), &opts).expect("run");
    let case = result
        .cases
        .iter()
        .find(|c| c.id == format!("property.{property}"))
        .expect("the property ran");
    assert!(
        matches!(case.verdict, Verdict::Fail | Verdict::Warn),
        "{property} against {fault:?}: verdict {:?} ({:?})",
        case.verdict,
        case.reason
    );
    let reason = case.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("seed 7"),
        "the reason names the seed: {reason}"
    );
    let file = found
        .iter()
        .find_map(|f| f.case_file.clone())
        .expect("a case file was written");
    let text = std::fs::read_to_string(&file).expect("case file");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    let steps = doc["cases"][0]["steps"].as_array().map_or(0, Vec::len);
    assert!(
        steps >= 1 && steps <= max_steps,
        "{property}: shrunk to {steps} steps (at most {max_steps} expected): {text}"
    );

    // The case, run by the harness against the same broken server, fails the same way.
    let parsed =
        qoauth_harness::cases::parse_case_file(&file, &text).expect("the harness loads it");
    let parsed: Vec<Arc<qoauth_harness::Case>> = parsed.into_iter().map(Arc::new).collect();
    let fresh = rt.block_on(serve(Some(fault)));
    let replay = rt
        .block_on(run(
            &parsed,
            &reference_at(&fresh.base_url),
            &RunOptions {
                revoke: false,
                ..Default::default()
            },
        ))
        .expect("harness run");
    let r = &replay.cases[0];
    assert_eq!(
        r.verdict, case.verdict,
        "{property}: the case file gives {:?} ({:?}); the property gave {:?}\n{text}",
        r.verdict, r.reason, case.verdict
    );
    assert_eq!(
        r.findings.first().map(|f| f.step.clone()),
        case.findings.first().map(|f| f.step.clone()),
        "{property}: the same step fails"
    );

    // And against the intact reference the same case passes.
    let intact = rt.block_on(serve(None));
    let ok = rt
        .block_on(run(
            &parsed,
            &reference_at(&intact.base_url),
            &RunOptions {
                revoke: false,
                ..Default::default()
            },
        ))
        .expect("harness run");
    assert_eq!(
        ok.cases[0].verdict,
        Verdict::Pass,
        "{property}: the case passes on the reference: {:?}\n{text}",
        ok.cases[0].reason
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn server_error_is_caught() {
    catches(
        Fault::ServerErrorOnForm,
        "rfc9110_15_6_no_server_error_or_hang",
        1,
    );
}

#[test]
fn wrong_envelope_status_is_caught() {
    catches(
        Fault::EnvelopeStatusWrong,
        "spec_errors_envelope_status_matches",
        1,
    );
}

#[test]
fn token_schema_break_is_caught() {
    catches(Fault::TokenTypeMac, "spec_token_response_schema", 2);
}

#[test]
fn missing_no_store_is_caught() {
    catches(
        Fault::NoStoreMissing,
        "rfc6749_5_1_token_response_no_store",
        2,
    );
}

#[test]
fn past_expiry_is_caught() {
    catches(
        Fault::ExpiryInPast,
        "rfc6749_5_1_token_response_future_expiry",
        2,
    );
}

#[test]
fn redirect_to_unregistered_uri_is_caught() {
    catches(
        Fault::RedirectsAnywhere,
        "rfc6749_4_1_2_1_authorize_no_unregistered_redirect",
        1,
    );
}

#[test]
fn dropped_state_is_caught() {
    catches(
        Fault::DropsState,
        "rfc6749_4_1_2_authorize_returns_state",
        1,
    );
}

#[test]
fn any_verifier_is_caught() {
    catches(
        Fault::AnyVerifier,
        "rfc7636_4_6_only_matching_verifier_redeems",
        2,
    );
}

#[test]
fn code_replay_is_caught() {
    catches(Fault::Replays, "rfc6749_4_1_2_code_single_use", 3);
}

#[test]
fn refresh_replay_is_caught() {
    catches(
        Fault::Replays,
        "rfc9700_4_14_2_rotated_refresh_single_use",
        4,
    );
}

#[test]
fn ignored_revocation_is_caught() {
    catches(
        Fault::IgnoresRevocation,
        "rfc7009_2_1_revoked_token_unusable",
        4,
    );
}

#[test]
fn widened_scope_is_caught() {
    catches(Fault::WidensScope, "rfc6749_3_3_scope_never_widens", 2);
}

#[test]
fn echoed_secret_is_caught() {
    catches(Fault::EchoesSecrets, "rfc6749_10_3_secrets_never_echoed", 2);
}

#[test]
fn assertion_replay_is_caught() {
    catches(Fault::Replays, "rfc7523_3_assertion_single_use", 2);
}

#[test]
fn lifecycle_divergence_is_caught() {
    catches(
        Fault::IgnoresRevocation,
        "rfc6749_rfc7009_token_lifecycle_model",
        4,
    );
}

#[test]
fn racing_redemptions_are_caught() {
    catches(
        Fault::Replays,
        "rfc6749_10_5_racing_code_redemptions_single_success",
        2,
    );
}

#[test]
fn racing_refreshes_are_caught() {
    catches(
        Fault::Replays,
        "rfc9700_4_14_2_racing_refreshes_single_success",
        3,
    );
}

#[test]
fn differential_mode_fails_on_a_clause_decided_disagreement() {
    catches_in(
        Fault::ServerErrorOnForm,
        "differential_reference_agreement",
        2,
        true,
    );
}

#[test]
fn differential_mode_warns_on_400_for_401() {
    catches_in(
        Fault::Refuses400,
        "differential_reference_agreement",
        2,
        true,
    );
}
