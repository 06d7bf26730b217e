//! Keeps the detection matrix honest: every fault of the catalogue is caught by at least one
//! MUST/SHOULD case or property, and on rule (by one naming a clause the fault breaks) unless
//! it is in [`OFF_RULE_ONLY`]; the clean reference trips no case and passes every property;
//! and `reports/detection.md` is what the matrix generates today.

use qoauth_harness::Catalogue;
use qoauth_reference::Fault;
use qoauth_testkit::paths::assert_current;

/// Faults caught today only as a side effect, by cases and properties naming other clauses,
/// each with why. The list may only shrink: the test fails when a fault here is caught on
/// rule, so that it is taken off.
/// Empty today: every fault is caught by a case or property citing its clause.
const OFF_RULE_ONLY: &[(&str, &str)] = &[];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_caught_no_false_positive_report_current() {
    let catalogue = Catalogue::load(&Catalogue::default_dir()).expect("the case catalogue loads");
    let matrix = qoauth_detect::run(&catalogue, &qoauth_detect::MatrixOptions::default())
        .await
        .expect("the matrix runs");
    let rendered = qoauth_detect::render(&matrix);
    assert!(
        matrix.rows.len() >= 40,
        "the catalogue has {} faults, fewer than 40",
        matrix.rows.len()
    );
    assert_eq!(matrix.rows.len(), qoauth_reference::Fault::ALL.len());
    assert!(
        matrix.false_positives.is_empty(),
        "the clean reference fails cases or properties: {:#?}",
        matrix.false_positives
    );
    // Every property but the differential one (which compares with the reference itself,
    // so against a faulty reference it would measure the fault, not the suite) ran and
    // passed on the clean reference.
    let expected: Vec<&str> = qoauth_props::property_names()
        .into_iter()
        .filter(|n| *n != "differential_reference_agreement")
        .collect();
    let ran: Vec<&str> = matrix.properties.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(ran, expected, "the matrix ran every property");
    for row in &matrix.rows {
        for c in &row.caught_by_properties {
            assert!(
                c.reason.contains("expected"),
                "{} caught {} without saying what it expected: {:?}",
                c.name,
                row.fault.name(),
                c.reason
            );
        }
    }
    let missed: Vec<&str> = matrix.missed().iter().map(|f| f.name()).collect();
    assert!(
        missed.is_empty(),
        "faults not caught: {missed:?}\n{rendered}"
    );
    for (name, reason) in OFF_RULE_ONLY {
        assert!(
            name.parse::<Fault>().is_ok(),
            "OFF_RULE_ONLY names {name:?}, which is not a fault"
        );
        assert!(
            !reason.trim().is_empty(),
            "OFF_RULE_ONLY: {name} needs a reason"
        );
    }
    let off_rule: Vec<&str> = matrix.off_rule_only().iter().map(|f| f.name()).collect();
    let unexplained: Vec<&&str> = off_rule
        .iter()
        .filter(|f| !OFF_RULE_ONLY.iter().any(|(n, _)| n == *f))
        .collect();
    assert!(
        unexplained.is_empty(),
        "faults caught only off rule (by cases and properties naming other clauses): {unexplained:?}; \
         add a case or property that names the broken clause\n{rendered}"
    );
    let now_on_rule: Vec<&str> = OFF_RULE_ONLY
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| !off_rule.contains(n))
        .collect();
    assert!(
        now_on_rule.is_empty(),
        "faults in OFF_RULE_ONLY are now caught on rule: {now_on_rule:?}; take them off the list"
    );
    assert_current(
        "reports/detection.md",
        &rendered,
        "cargo run -p qoauth --features faults -- detect --write reports/detection.md",
    );
}
