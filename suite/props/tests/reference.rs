//! Against the embedded reference every property holds; failing seeds are kept in
//! proptest-regressions/ and replayed first. QOAUTH_PROPTEST_CASES raises the count.

mod common;

use qoauth_harness::result::Verdict;

#[test]
fn all_properties_hold_against_the_reference() {
    let opts = qoauth_props::Options {
        cases: common::cases(32),
        seed: std::env::var("QOAUTH_PROPTEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok()),
        out_dir: common::out_dir("reference"),
        regressions: Some(qoauth_props::regressions_dir()),
        ..Default::default()
    };
    let (run, _) = qoauth_props::run_properties_with(None, &opts).expect("run");
    let names = qoauth_props::property_names();
    assert_eq!(
        run.cases.len(),
        names.len() - 1,
        "every property but the differential one ran"
    );
    let bad: Vec<String> = run
        .cases
        .iter()
        .filter(|c| c.verdict != Verdict::Pass)
        .map(|c| {
            format!(
                "{}: {:?} {}",
                c.id,
                c.verdict,
                c.reason.as_deref().unwrap_or("")
            )
        })
        .collect();
    assert!(
        bad.is_empty(),
        "properties that do not hold on the reference:\n{}",
        bad.join("\n")
    );
    assert!(
        run.stats.requests > u64::from(opts.cases),
        "requests were sent: {}",
        run.stats.requests
    );
}

#[test]
fn the_budget_caps_the_run_including_shrinking() {
    let opts = qoauth_props::Options {
        cases: 1000,
        seed: Some(1),
        budget: Some(150),
        out_dir: common::out_dir("budget"),
        ..Default::default()
    };
    let (run, _) = qoauth_props::run_properties_with(None, &opts).expect("run");
    assert!(
        run.stats.requests <= 150,
        "{} requests sent within a budget of 150",
        run.stats.requests
    );
    assert!(
        run.cases.iter().any(|c| c.verdict == Verdict::Skip
            && c.reason.as_deref().is_some_and(|r| r.contains("budget"))),
        "some property stopped for the budget"
    );
}

#[test]
fn differential_mode_finds_no_disagreement_with_itself() {
    let opts = qoauth_props::Options {
        cases: common::cases(32),
        seed: Some(3),
        out_dir: common::out_dir("differential"),
        only: vec!["differential_reference_agreement".into()],
        differential: true,
        ..Default::default()
    };
    let (run, _) = qoauth_props::run_properties_with(None, &opts).expect("run");
    let c = &run.cases[0];
    assert_eq!(c.id, "property.differential_reference_agreement");
    assert_eq!(c.verdict, Verdict::Pass, "{:?}", c.reason);
}
